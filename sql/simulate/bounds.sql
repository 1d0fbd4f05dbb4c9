-- bounds: the span of recorded fleet data the simulator replays.
-- Grain: one row. Inputs: nodes, pod_gpu_requests. Parameters: none.
-- Output: first_ts (earliest node start), horizon_ts (latest known instant: the max of every start
--         and end; open-ended nodes and pods run until it).
SELECT min(start_ts) AS first_ts,
       greatest(max(start_ts), max(end_ts),
                (SELECT max(greatest(start_ts, coalesce(end_ts, start_ts))) FROM pod_gpu_requests)) AS horizon_ts
FROM nodes;
