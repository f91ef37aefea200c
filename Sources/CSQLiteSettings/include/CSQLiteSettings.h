#ifndef CSQLITESETTINGS_H
#define CSQLITESETTINGS_H

/// Turns off SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS), which take a process-wide
/// mutex around every allocation SQLite makes. sqlite3_config is variadic, which Swift cannot
/// call. Only effective before SQLite is first used in the process; answers SQLite's result
/// code (SQLITE_MISUSE after that).
int switchboard_sqlite_memstatus_off(void);

#endif
