-- Faults (issue 15). A listener's and a reconnecting session's faults are stored with them, as a
-- JSON array in the API's shape ({name, type, direction, toxicity, attributes}), NULL for none;
-- replaced whole when they change, read back at start-up.
ALTER TABLE listeners ADD COLUMN faults TEXT CHECK (faults IS NULL OR json_type(faults) = 'array');
ALTER TABLE reconnecting_sessions ADD COLUMN faults TEXT CHECK (faults IS NULL OR json_type(faults) = 'array');
-- Each session's fault log: every fault that met it, whether its toxicity draw said it applies,
-- and when, as a JSON array of {name, type, direction, applied, at}; NULL for the sessions no
-- fault met, nearly every row, which so pay one NULL and no index entry.
ALTER TABLE sessions ADD COLUMN faults TEXT CHECK (faults IS NULL OR json_type(faults) = 'array');
-- The history's fault filter walks only the sessions a fault met, newest first; queries that
-- want it repeat its condition literally (HistoryQuery.swift), as SQLite's planner requires.
CREATE INDEX sessions_with_faults ON sessions (id) WHERE faults IS NOT NULL;
