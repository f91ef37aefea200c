-- sessions_by_name holds only named sessions (outbound and reconnecting ones an operator
-- named): a listener's accepted sessions, nearly every row and every churned session, have
-- none and no longer pay for an index entry. `name = ?` implies `name IS NOT NULL`, which
-- SQLite's planner sees without the condition repeated.
DROP INDEX IF EXISTS sessions_by_name;
CREATE INDEX sessions_by_name ON sessions (name, id) WHERE name IS NOT NULL;
