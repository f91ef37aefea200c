-- sessions_by_state holds only the sessions that are not closed: the few a state filter
-- has to find among many (open, interrupted). Closed sessions, nearly every row and every
-- churned session, no longer pay for an index entry; a `state=closed` page walks ids newest
-- first, where closed rows are most of what it meets. Queries that want the index repeat its
-- condition literally (HistoryQuery.swift), as SQLite's planner requires.
DROP INDEX IF EXISTS sessions_by_state;
CREATE INDEX sessions_by_state ON sessions (state, id) WHERE state != 'closed';
