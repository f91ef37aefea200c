-- sessions_by_opened_at goes: every session row paid for it, and nothing needs it. Ids are
-- ULIDs, whose first ten characters are the opening millisecond, so the history's time filters
-- (since, until) and retention by age bound the primary key instead (HistoryQuery.swift,
-- Retention.swift).
DROP INDEX IF EXISTS sessions_by_opened_at;
