-- prices_known_regions: every AWS region costlab has a price or a node for.
-- Grain: one row per region. Inputs: prices, nodes. Parameters: none.
-- Output: region VARCHAR. Used to warn about imported overrides whose region looks misspelt.
SELECT region FROM prices
UNION
SELECT region FROM nodes WHERE region IS NOT NULL
ORDER BY region;
