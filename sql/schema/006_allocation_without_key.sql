-- 006_allocation_without_key: `allocation` is derived, rebuilt per window by delete-then-insert in
-- one transaction, so it needs no primary-key index; maintaining one over its text columns was a
-- third of the engine's time on a 30-day, 1,024-GPU fleet (bench/README.md).
CREATE TABLE allocation_rebuilt AS SELECT * FROM allocation;
DROP TABLE allocation;
ALTER TABLE allocation_rebuilt RENAME TO allocation;
