-- Every session switchboard had, in both roles. Timestamps are RFC 3339 UTC text with
-- milliseconds (2026-11-26T04:09:14.508Z): readable in sqlite3 and ordered as text.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY NOT NULL,          -- ULID: sorts by opening time
    role           TEXT NOT NULL CHECK (role IN ('server', 'client')),
    listener       TEXT,                               -- the accepting listener (server role)
    name           TEXT,                               -- the operator's name (client role)
    local_address  TEXT,
    remote_address TEXT,
    state          TEXT NOT NULL CHECK (state IN ('open', 'closed', 'interrupted')),
    opened_at      TEXT NOT NULL,
    closed_at      TEXT,
    close_reason   TEXT,                               -- local, peer, reset, error: ..., interrupted
    bytes_in       INTEGER NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),
    bytes_out      INTEGER NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),
    partner_id     TEXT,                               -- the other half of a relayed pair
    CHECK ((state = 'open') = (closed_at IS NULL))
);
CREATE INDEX sessions_by_listener ON sessions (listener, id);
CREATE INDEX sessions_by_name ON sessions (name, id);
CREATE INDEX sessions_by_state ON sessions (state, id);
CREATE INDEX sessions_by_opened_at ON sessions (opened_at);

-- The listeners created over the API; each comes back at start-up.
CREATE TABLE listeners (
    name              TEXT PRIMARY KEY NOT NULL,
    address           TEXT NOT NULL,                   -- as asked for: HOST:PORT or unix:/path
    mode              TEXT NOT NULL CHECK (mode IN ('echo', 'reply', 'hold')),
    reply             BLOB,                            -- the bytes a reply listener answers with
    close_after_reply INTEGER NOT NULL DEFAULT 0 CHECK (close_after_reply IN (0, 1)),
    max_sessions      INTEGER CHECK (max_sessions IS NULL OR max_sessions >= 1),
    created_at        TEXT NOT NULL,
    CHECK ((mode = 'reply') = (reply IS NOT NULL))
);

-- What the service knows about itself, e.g. last_alive: the latest time it was known running.
CREATE TABLE service_state (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
