-- As ../0011_partial_name_index.sql: only named sessions in sessions_by_name. `name = $1`
-- implies `name IS NOT NULL`, which PostgreSQL's planner proves itself. The new index is built
-- inside the migration's transaction: on a big history, every instance's writes wait in their
-- spools until it is (CONCURRENTLY cannot run in a transaction).
DROP INDEX IF EXISTS sessions_by_name;
CREATE INDEX sessions_by_name ON sessions (name, id) WHERE name IS NOT NULL;
