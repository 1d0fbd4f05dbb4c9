-- insert_allocation: the head of the statement that writes a result stage's SELECT (split.sql)
-- into allocation, columns matched by name; costlab/allocate/gpu.py appends the SELECT.
INSERT INTO allocation BY NAME
