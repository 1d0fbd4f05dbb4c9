-- insert_unpriced: the head of the statement that writes a result stage's SELECT (unpriced.sql)
-- into unpriced_node_hours, columns by position; costlab/allocate/gpu.py appends the SELECT.
INSERT INTO unpriced_node_hours
