-- Finds the few sessions that moved many bytes (the history's min_bytes filter) without a
-- scan; the query uses it only when few rows match (HistoryQuery.swift says why).
CREATE INDEX sessions_by_bytes ON sessions (bytes_in + bytes_out);
