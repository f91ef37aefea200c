-- The history of a fleet of switchboards in one PostgreSQL database: the same rows as the SQLite
-- file (migrations/*.sql), each session and stored listener with the instance it belongs to.
-- Applied at start-up under an advisory lock (PostgresMigrations.swift), so instances starting
-- together migrate once. Ids are ULIDs compared byte by byte ("C"), the order pages are read in.
CREATE TABLE sessions (
    id                TEXT COLLATE "C" PRIMARY KEY,
    instance          TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('server', 'client')),
    listener          TEXT,
    name              TEXT,
    local_address     TEXT,
    remote_address    TEXT,
    state             TEXT NOT NULL CHECK (state IN ('open', 'closed', 'interrupted')),
    opened_at         TIMESTAMPTZ NOT NULL,
    closed_at         TIMESTAMPTZ,
    close_reason      TEXT,
    bytes_in          BIGINT NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),
    bytes_out         BIGINT NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),
    partner_id        TEXT COLLATE "C",
    capture           BOOLEAN NOT NULL DEFAULT false,
    capture_truncated BOOLEAN NOT NULL DEFAULT false,
    -- The faults that met the session: [{name, type, direction, applied, at}], NULL for none.
    faults            JSONB CHECK (faults IS NULL OR jsonb_typeof(faults) = 'array'),
    CHECK ((state = 'open') = (closed_at IS NULL))
);
-- One index per filter whose matches can be rare; each ends in the id, so a first page is the
-- index's first entries. Filters whose matches are common (role, remote, closed) walk the
-- primary key newest first. HistoryQuery+Postgres.swift writes the conditions these match.
CREATE INDEX sessions_by_instance ON sessions (instance, id);
CREATE INDEX sessions_by_listener ON sessions (listener, id);
CREATE INDEX sessions_by_name ON sessions (name, id);
-- Only the sessions that are not closed: few among many, and a closed session pays nothing.
CREATE INDEX sessions_by_state ON sessions (state, id) WHERE state <> 'closed';
CREATE INDEX sessions_by_bytes ON sessions ((bytes_in + bytes_out), id);
CREATE INDEX sessions_with_faults ON sessions (id) WHERE faults IS NOT NULL;

-- Captured bytes. No foreign key: a message must never make its batch fail; retention deletes
-- messages with their session.
CREATE TABLE messages (
    session_id TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL CHECK (seq >= 1),
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    at         TIMESTAMPTZ NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (session_id, seq)
);

-- The listeners created over each instance's API; each comes back when its instance starts.
CREATE TABLE listeners (
    instance          TEXT NOT NULL,
    name              TEXT NOT NULL,
    address           TEXT NOT NULL,
    mode              TEXT NOT NULL CHECK (mode IN ('echo', 'reply', 'hold', 'forward')),
    reply             BYTEA,
    close_after_reply BOOLEAN NOT NULL DEFAULT false,
    max_sessions      INTEGER CHECK (max_sessions IS NULL OR max_sessions >= 1),
    capture           BOOLEAN NOT NULL DEFAULT false,
    forward_to        TEXT,
    reset_on_failure  BOOLEAN NOT NULL DEFAULT false,
    options           JSONB,
    faults            JSONB CHECK (faults IS NULL OR jsonb_typeof(faults) = 'array'),
    -- A disabled listener is kept with its faults, not bound, until it is enabled again.
    enabled           BOOLEAN NOT NULL DEFAULT true,
    created_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (instance, name),
    CHECK ((mode = 'reply') = (reply IS NOT NULL)),
    CHECK ((mode = 'forward') = (forward_to IS NOT NULL))
);

CREATE TABLE reconnecting_sessions (
    instance           TEXT NOT NULL,
    name               TEXT NOT NULL,
    connect            TEXT NOT NULL,
    send               BYTEA,
    capture            BOOLEAN NOT NULL DEFAULT false,
    connect_timeout_ms BIGINT NOT NULL CHECK (connect_timeout_ms >= 1),
    initial_ms         BIGINT NOT NULL CHECK (initial_ms >= 1),
    max_ms             BIGINT NOT NULL CHECK (max_ms >= initial_ms),
    jitter             BOOLEAN NOT NULL,
    options            JSONB,
    faults             JSONB CHECK (faults IS NULL OR jsonb_typeof(faults) = 'array'),
    created_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (instance, name)
);

-- One row per instance: who holds it now (a live service holds the instance's advisory lock
-- as well) and when it was last known alive, the closing time of what it leaves interrupted.
CREATE TABLE instances (
    instance   TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_alive TIMESTAMPTZ NOT NULL
);
