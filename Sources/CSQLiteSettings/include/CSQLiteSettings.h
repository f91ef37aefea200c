#ifndef CSQLITESETTINGS_H
#define CSQLITESETTINGS_H

// The process-wide SQLite settings Swift cannot make itself: sqlite3_config is variadic. Each is
// only effective before SQLite is first used in the process, and answers SQLite's result code
// (SQLITE_MISUSE after that).

/// Turns off SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS), which take a process-wide
/// mutex around every allocation SQLite makes.
int switchboard_sqlite_memstatus_off(void);

/// Keeps every statement journal (what undoes one statement within a transaction) in memory
/// (SQLITE_CONFIG_STMTJRNL_SPILL -1) instead of moving it to a temporary file past 64 KiB.
/// Sorts and temporary tables still go to files as SQLite sees fit.
int switchboard_sqlite_statement_journals_in_memory(void);

#endif
