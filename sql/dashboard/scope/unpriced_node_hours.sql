-- scope/unpriced_node_hours: node-hours that could not be priced are fleet facts: the fleet view
-- sees them, a tenant view sees none; shadows `unpriced_node_hours`.
SELECT * FROM unpriced_node_hours WHERE $tenant IS NULL
