-- prices_known_instance_types: every instance type costlab has any price for.
-- Grain: one row per instance_type. Inputs: prices. Parameters: none.
-- Output: instance_type VARCHAR. Used to flag imported overrides whose type looks misspelt.
SELECT DISTINCT instance_type
FROM prices
ORDER BY instance_type;
