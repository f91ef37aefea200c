#if canImport(Glibc)
import Glibc
#endif
import CSQLiteSettings
import Foundation
import GRDB
import NIOCore
import SwitchboardCore

/// The SQLite file of the history: its schema, its writes and its queries. One type owns the
/// database; everything else asks it.
public final class HistoryDatabase: Sendable {
    let pool: DatabasePool
    public let path: String
    public let instance: String
    /// Held for the life of a writing service; nil for a reader.
    private let lock: FileLock?
    /// The file (and its WAL) as opened, to notice when the path no longer leads to it.
    private let identity: FileIdentity?

    /// Made once, before this process opens its first database: SQLite takes settings only
    /// before it starts, and while no other thread uses it (every open here waits for this
    /// first). Its memory statistics (nothing here reads them) cost the writer a process-wide
    /// mutex around every allocation. The sessions upsert takes up to 64 records a statement
    /// (SessionUpsert), and such a statement keeps a journal to undo it alone, which SQLite
    /// moves to a temporary file past 64 KiB: 810,000 writes to such files for 200,000 sessions
    /// in history-bench (53,000 to the WAL), a slower writer than one record a statement. In
    /// memory it is the few pages one statement touches. Too late (a database was opened
    /// otherwise first), SQLite refuses both and keeps its defaults: slower, not wrong.
    private static let sqliteSettings: Void = {
        _ = switchboard_sqlite_memstatus_off()
        _ = switchboard_sqlite_statement_journals_in_memory()
    }()

    /// Opens (creating if needed) and migrates the file, for `instance`, once this process
    /// holds the file's lock: one service writes a file at a time.
    ///
    /// WAL lets the API and `switchboard history` read while the writer writes.
    /// `synchronous=NORMAL` in WAL mode syncs at checkpoints, not at every commit: a committed
    /// batch survives the process being killed, and a power loss can take at most the last
    /// few batches, which the durability promise allows (the batch window) at a fraction of the
    /// fsyncs that FULL would cost per batch.
    public init(path: String, instance: String = InstanceName.default, migrations: [(name: String, sql: String)] = HistoryDatabase.migrations) throws {
        self.path = path
        self.instance = instance
        lock = try FileLock(holding: path)
        _ = Self.sqliteSettings
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator(migrations).migrate(pool)
        identity = FileIdentity(path: path)
        if migrations.contains(where: { $0.name == "0009_instance" }) {
            try pool.write { db in
                // Rows from before instances existed are the file's own: its first instance takes them.
                try db.execute(sql: "UPDATE listeners SET instance = ? WHERE instance IS NULL", arguments: [instance])
                try db.execute(sql: "UPDATE reconnecting_sessions SET instance = ? WHERE instance IS NULL", arguments: [instance])
                try db.execute(
                    sql: "INSERT INTO service_state (key, value) VALUES ('holder', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    arguments: [InstanceName.holder(instance)]
                )
            }
        }
    }

    /// Opens an existing file for reading only, beside a running service if need be.
    public init(readingOnly path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatabaseError(resultCode: .SQLITE_CANTOPEN, message: "no history file at \(path)")
        }
        _ = Self.sqliteSettings
        self.path = path
        instance = ""
        lock = nil
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        identity = nil
    }

    /// The schema files compiled in from `migrations/`, oldest first.
    public static var migrations: [(name: String, sql: String)] { EmbeddedMigrations.all }

    static func migrator(_ migrations: [(name: String, sql: String)]) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (name, sql) in migrations {
            migrator.registerMigration(name) { db in try db.execute(sql: sql) }
        }
        return migrator
    }

    /// The names of the migrations applied to the file, in order.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try DatabaseMigrator().appliedIdentifiers(db).sorted() }
    }

    // MARK: Start-up

    /// Sessions of this instance still `open` in the file belonged to a run that ended without
    /// closing them (SIGKILL, power loss): they become `interrupted`, closed when that run was
    /// last known alive. Sessions from before instances existed are the file's own.
    public func markInterrupted(now: Date) throws -> Int {
        try pool.write { db in
            let lastAlive = try String.fetchOne(db, sql: "SELECT value FROM service_state WHERE key = 'last_alive'") ?? RFC3339.format(now)
            try db.execute(
                sql: """
                    UPDATE sessions
                    SET state = 'interrupted', close_reason = 'interrupted',
                        closed_at = max(opened_at, ?)
                    WHERE state = 'open' AND state != 'closed' AND (instance = ? OR instance IS NULL)
                    """,
                arguments: [lastAlive, instance]
            )
            return db.changesCount
        }
    }

    /// The listeners to bring back at start-up: this instance's.
    public func savedListeners() throws -> [SavedListener] {
        try pool.read { db in try ListenerRecord.filter(Column("instance") == instance).order(Column("created_at")).fetchAll(db) }.map(\.saved)
    }

    /// Listeners and reconnecting sessions stored for other instances, by instance: in a file one
    /// service holds at a time these are what a service under an earlier name left (a renamed
    /// host, a container's new host name), which this one does not restore.
    public func storedForOtherInstances() throws -> [String: Int] {
        try pool.read { db in
            var counts: [String: Int] = [:]
            for table in [ListenerRecord.databaseTableName, ReconnectingRecord.databaseTableName] {
                for row in try Row.fetchAll(db, sql: "SELECT instance, count(*) AS n FROM \(table) WHERE instance != ? GROUP BY instance", arguments: [instance]) {
                    counts[row["instance"], default: 0] += row["n"] as Int
                }
            }
            return counts
        }
    }

    /// The reconnecting sessions to bring back at start-up: this instance's.
    public func savedReconnecting() throws -> [SavedReconnecting] {
        try pool.read { db in try ReconnectingRecord.filter(Column("instance") == instance).order(Column("created_at")).fetchAll(db) }.map(\.saved)
    }

    // MARK: Writes

    /// A session's row as last reported. A closed row is never made open again: the spool's
    /// records of a session can be written after its close (a replay, a retried segment). A
    /// fault log only grows, so the longer one is the later and wins, whichever record comes
    /// last (one without a log never erases one).
    ///
    /// For `rows` records at once: their values in order, 17 each. A later row of the same id
    /// updates the row an earlier one inserted, as separate statements would.
    static func upsertSQL(rows: Int) -> String {
        let values = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ",\n       ")
        return """
            INSERT INTO sessions (id, role, listener, name, local_address, remote_address, state, opened_at,
                                  closed_at, close_reason, bytes_in, bytes_out, partner_id, capture, capture_truncated, faults, instance)
            VALUES \(values)
            ON CONFLICT (id) DO UPDATE SET
                state = excluded.state, closed_at = excluded.closed_at, close_reason = excluded.close_reason,
                bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out,
                partner_id = coalesce(excluded.partner_id, partner_id),
                capture_truncated = excluded.capture_truncated,
                faults = CASE WHEN json_array_length(excluded.faults) >= coalesce(json_array_length(sessions.faults), 0)
                              THEN excluded.faults ELSE sessions.faults END
            WHERE excluded.state != 'open' OR sessions.state = 'open'
            """
    }

    /// Writes what the spool held when the service last stopped, before open sessions are
    /// marked interrupted. Idempotent: a kill during the replay replays again next time.
    public func replay(_ recovery: SessionSpool.Recovery) throws -> Int {
        let rows = SpoolRecord.latest(recovery.records)
        guard !rows.isEmpty else { return 0 }
        // The spool proves the service alive when its newest record was made.
        let newest = rows.map { $0.closedAt ?? $0.openedAt }.max()!
        try pool.write { db in
            let upsert = SessionUpsert(db, instance: instance)
            try upsert.execute(rows)
            try db.execute(
                sql: "INSERT INTO service_state (key, value) VALUES ('last_alive', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                arguments: [newest]
            )
        }
        return rows.count
    }

    /// Writes one batch in one transaction, and notes that the service is alive.
    public func write(sessions: [SessionRecord], messages: [MessageRecord], aliveAt now: Date) async throws {
        let instance = self.instance
        try await pool.write { db in
            let upsert = SessionUpsert(db, instance: instance)
            let message = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO messages (session_id, seq, direction, at, data) VALUES (?, ?, ?, ?, ?)
                """)
            for m in messages { try message.execute(arguments: [m.sessionId, m.seq, m.direction, m.at, m.data]) }
            try upsert.execute(sessions)
            try db.execute(
                sql: "INSERT INTO service_state (key, value) VALUES ('last_alive', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                arguments: [RFC3339.format(now)]
            )
        }
    }
}

extension HistoryDatabase: HistoryStore {
    public var location: String { path }
    public func problem() -> String? { fileProblem() }
    /// Another service may take the file from now on; reads still work.
    public func close() async { lock?.release() }
}

extension HistoryDatabase {
    /// Nil while the path still leads to the file SQLite has open; else what happened to it.
    /// Two stats: cheap enough for the writer to ask once a second.
    public func fileProblem() -> String? {
        guard let identity else { return nil }
        return identity.problem(path: path)
    }
}

/// A file's device and inode, and its WAL's: once the path leads elsewhere (or nowhere),
/// SQLite keeps writing into an inode nobody will open again.
struct FileIdentity: Sendable {
    let device: UInt64
    let inode: UInt64
    let wal: (device: UInt64, inode: UInt64)?

    init?(path: String) {
        guard let main = Self.identify(path) else { return nil }
        (device, inode) = main
        wal = Self.identify(path + "-wal")
    }

    func problem(path: String) -> String? {
        guard let now = Self.identify(path) else { return "the history file was deleted while in use; restart the service to record into a new one" }
        guard now == (device, inode) else { return "the history file was replaced while in use; restart the service to record into a new one" }
        if let wal {
            guard let walNow = Self.identify(path + "-wal") else { return "the history file's WAL was deleted while in use; restart the service to record into a new one" }
            guard walNow == wal else { return "the history file's WAL was replaced while in use; restart the service to record into a new one" }
        }
        return nil
    }

    private static func identify(_ path: String) -> (UInt64, UInt64)? { deviceAndInode(path) }
}

private func deviceAndInode(_ path: String) -> (UInt64, UInt64)? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return (UInt64(info.st_dev), UInt64(info.st_ino))
}

extension HistoryDatabase: ListenerStore {
    public func saveListener(_ spec: ListenerSpec, createdAt: Date) async throws {
        let row = ListenerRecord(spec, createdAt: createdAt, instance: instance)
        try refuseIfFileGone()
        try await pool.write { db in try row.save(db) }
    }

    /// A listener stored into a deleted file would answer 201 and be gone at the next start.
    private func refuseIfFileGone() throws {
        if let problem = fileProblem() { throw FileProblem(description: problem) }
    }

    struct FileProblem: Error, CustomStringConvertible {
        let description: String
    }

    public func deleteListener(named name: String) async throws {
        _ = try await pool.write { db in try ListenerRecord.deleteOne(db, key: name) }
    }

    public func saveReconnecting(_ spec: ConnectSpec, createdAt: Date) async throws {
        let record = ReconnectingRecord(spec, createdAt: createdAt, instance: instance)
        try refuseIfFileGone()
        try await pool.write { db in try record.save(db) }
    }

    public func deleteReconnecting(named name: String) async throws {
        _ = try await pool.write { db in try ReconnectingRecord.deleteOne(db, key: name) }
    }

    /// Replaces the stored list. A target with no stored row (deleted meanwhile) is an error:
    /// the change would not survive a restart.
    public func saveFaults(_ faults: [Fault], on target: FaultTarget) async throws {
        let table: String, name: String
        switch target {
        case .listener(let listener): (table, name) = (ListenerRecord.databaseTableName, listener)
        case .reconnecting(let session): (table, name) = (ReconnectingRecord.databaseTableName, session)
        case .session: return
        }
        let text = StoredFaults.encode(faults)
        try refuseIfFileGone()
        let changed = try await pool.write { db in
            try db.execute(sql: "UPDATE \(table) SET faults = ? WHERE name = ?", arguments: [text, name])
            return db.changesCount
        }
        guard changed == 1 else { throw FileProblem(description: "\(target) is not in the history file") }
    }
}
