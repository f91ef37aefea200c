-- Every session and every stored listener and reconnecting session belongs to an instance
-- (`--instance`, default the host name): what a service restores and marks interrupted is its
-- own instance's. Rows from before this file have none (NULL): an old file's sessions stay
-- without one, and its listeners are taken over by the first instance that starts on it.
-- No index: a file is held by one service at a time, so its rows are nearly all one
-- instance's, and a filter on it finds a page walking ids newest first.
ALTER TABLE sessions ADD COLUMN instance TEXT;
ALTER TABLE listeners ADD COLUMN instance TEXT;
ALTER TABLE reconnecting_sessions ADD COLUMN instance TEXT;
