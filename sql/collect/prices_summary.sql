-- prices_summary: what the prices table holds per source and capacity type, for CLI summaries.
-- Grain: one row per (source, capacity_type). Inputs: prices. Parameters: none.
-- Output: source, capacity_type, instance_types (count), zones (count of non-empty zones),
--         rows (count), first_effective_from / last_effective_from (TIMESTAMPTZ, UTC).
SELECT
    source,
    capacity_type,
    count(DISTINCT instance_type)                    AS instance_types,
    count(DISTINCT nullif(zone, ''))                 AS zones,
    count(*)                                         AS rows,
    min(effective_from)                              AS first_effective_from,
    max(effective_from)                              AS last_effective_from
FROM prices
GROUP BY source, capacity_type
ORDER BY source, capacity_type;
