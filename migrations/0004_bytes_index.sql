-- Finds the sessions that moved many bytes (the history's min_bytes filter) without walking
-- the table; with the id in the index a first page is read from the index alone.
-- HistoryQuery.swift says when the query uses it.
CREATE INDEX sessions_by_bytes ON sessions (bytes_in + bytes_out, id);
