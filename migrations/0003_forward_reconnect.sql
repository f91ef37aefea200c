-- Forward listeners and per-listener connection options. SQLite cannot change a CHECK
-- constraint in place, so the listeners table is rebuilt with its rows.
CREATE TABLE listeners_new (
    name              TEXT PRIMARY KEY NOT NULL,
    address           TEXT NOT NULL,                   -- as asked for: HOST:PORT or unix:/path
    mode              TEXT NOT NULL CHECK (mode IN ('echo', 'reply', 'hold', 'forward')),
    reply             BLOB,                            -- the bytes a reply listener answers with
    close_after_reply INTEGER NOT NULL DEFAULT 0 CHECK (close_after_reply IN (0, 1)),
    max_sessions      INTEGER CHECK (max_sessions IS NULL OR max_sessions >= 1),
    created_at        TEXT NOT NULL,
    capture           INTEGER NOT NULL DEFAULT 0 CHECK (capture IN (0, 1)),
    forward_to        TEXT,                            -- a forward listener's upstream
    reset_on_failure  INTEGER NOT NULL DEFAULT 0 CHECK (reset_on_failure IN (0, 1)),
    options           TEXT,                            -- JSON: nodelay, keepalive, idle_timeout_ms, ...
    CHECK ((mode = 'reply') = (reply IS NOT NULL)),
    CHECK ((mode = 'forward') = (forward_to IS NOT NULL))
);
INSERT INTO listeners_new (name, address, mode, reply, close_after_reply, max_sessions, created_at, capture)
    SELECT name, address, mode, reply, close_after_reply, max_sessions, created_at, capture FROM listeners;
DROP TABLE listeners;
ALTER TABLE listeners_new RENAME TO listeners;

-- Named outbound sessions the service keeps connected; each comes back at start-up.
CREATE TABLE reconnecting_sessions (
    name               TEXT PRIMARY KEY NOT NULL,
    connect            TEXT NOT NULL,                  -- HOST:PORT or unix:/path
    send               BLOB,                           -- sent on every new connection
    capture            INTEGER NOT NULL DEFAULT 0 CHECK (capture IN (0, 1)),
    connect_timeout_ms INTEGER NOT NULL CHECK (connect_timeout_ms >= 1),
    initial_ms         INTEGER NOT NULL CHECK (initial_ms >= 1),
    max_ms             INTEGER NOT NULL CHECK (max_ms >= initial_ms),
    jitter             INTEGER NOT NULL CHECK (jitter IN (0, 1)),
    options            TEXT,                           -- JSON, as for listeners
    created_at         TEXT NOT NULL
);
