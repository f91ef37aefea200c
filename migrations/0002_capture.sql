-- Captured transcripts: the bytes of each direction of sessions with capture on. No foreign
-- key: a message must never make its batch fail; retention deletes messages with their session.
CREATE TABLE messages (
    session_id TEXT NOT NULL,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    at         TEXT NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

ALTER TABLE sessions ADD COLUMN capture INTEGER NOT NULL DEFAULT 0 CHECK (capture IN (0, 1));
-- Set when the capture reached its cap and later bytes were not recorded.
ALTER TABLE sessions ADD COLUMN capture_truncated INTEGER NOT NULL DEFAULT 0 CHECK (capture_truncated IN (0, 1));
ALTER TABLE listeners ADD COLUMN capture INTEGER NOT NULL DEFAULT 0 CHECK (capture IN (0, 1));
