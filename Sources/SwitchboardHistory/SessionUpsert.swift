import GRDB
import GRDBSQLite

/// `HistoryDatabase.upsertSQL` for one session record, its values bound with SQLite's own
/// calls on GRDB's cached statement.
///
/// This statement runs twice for every session (opened, closed); GRDB's `StatementArguments`
/// boxes each of its 17 values as a `DatabaseValue` in an array first, a third of the writer's
/// own CPU in a churn profile. Other statements go through GRDB as usual. Skipped here, and
/// unused by the history: GRDB's transaction observers and authorizer.
struct SessionUpsert {
    private let statement: Statement
    private let instance: String

    init(_ db: Database, instance: String) throws {
        statement = try db.cachedStatement(sql: HistoryDatabase.upsertSQL)
        self.instance = instance
    }

    func execute(_ row: SessionRecord) throws {
        let handle = statement.sqliteStatement
        // A failed step was reported already; reset's code repeats it.
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        defer { sqlite3_clear_bindings(handle) }
        try check(Self.bind(row.id, 1, handle))
        try check(Self.bind(row.role, 2, handle))
        try check(Self.bind(row.listener, 3, handle))
        try check(Self.bind(row.name, 4, handle))
        try check(Self.bind(row.localAddress, 5, handle))
        try check(Self.bind(row.remoteAddress, 6, handle))
        try check(Self.bind(row.state, 7, handle))
        try check(Self.bind(row.openedAt, 8, handle))
        try check(Self.bind(row.closedAt, 9, handle))
        try check(Self.bind(row.closeReason, 10, handle))
        try check(sqlite3_bind_int64(handle, 11, row.bytesIn))
        try check(sqlite3_bind_int64(handle, 12, row.bytesOut))
        try check(Self.bind(row.partnerId, 13, handle))
        try check(sqlite3_bind_int64(handle, 14, row.capture ? 1 : 0))
        try check(sqlite3_bind_int64(handle, 15, row.captureTruncated ? 1 : 0))
        try check(Self.bind(SessionFaultRecord.column(row.faults), 16, handle))
        try check(Self.bind(instance, 17, handle))
        try check(sqlite3_step(handle), expected: SQLITE_DONE)
    }

    /// Throws what SQLite said unless it said `expected`. GRDB interrupts a cancelled task's
    /// statement; that is a cancellation (the writer keeps the batch and says nothing), as GRDB
    /// itself reports it, not a failing store.
    private func check(_ code: Int32, expected: Int32 = SQLITE_OK) throws {
        guard code != expected else { return }
        if code == SQLITE_INTERRUPT { throw CancellationError() }
        let message = sqlite3_db_handle(statement.sqliteStatement).flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }

    /// SQLite copies the text (SQLITE_TRANSIENT), so the Swift string's storage need not outlive
    /// the call; nil binds NULL.
    private static func bind(_ text: String?, _ index: Int32, _ handle: OpaquePointer) -> Int32 {
        guard var text else { return sqlite3_bind_null(handle, index) }
        return text.withUTF8 { utf8 in
            guard let address = utf8.baseAddress, !utf8.isEmpty else {
                // An empty buffer may have no address, which SQLite would take for NULL.
                return sqlite3_bind_text(handle, index, "", 0, transient)
            }
            return sqlite3_bind_text(handle, index, UnsafeRawPointer(address).assumingMemoryBound(to: CChar.self), Int32(utf8.count), transient)
        }
    }

    /// SQLITE_TRANSIENT, a macro Swift does not import: "copy the bytes now".
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
}
