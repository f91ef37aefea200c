-- A listener can be disabled (the Toxiproxy API's `enabled: false`): kept with its faults,
-- not bound, until it is enabled again; a restart keeps it disabled.
ALTER TABLE listeners ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1));
