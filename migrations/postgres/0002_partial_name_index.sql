-- As ../0011_partial_name_index.sql: only named sessions in sessions_by_name. `name = $1`
-- implies `name IS NOT NULL`, which PostgreSQL's planner proves itself.
DROP INDEX IF EXISTS sessions_by_name;
CREATE INDEX sessions_by_name ON sessions (name, id) WHERE name IS NOT NULL;
