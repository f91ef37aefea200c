import GRDB
import GRDBSQLite

/// `HistoryDatabase.upsertSQL` for session records, their values bound with SQLite's own calls
/// on GRDB's cached statements.
///
/// This statement runs for every session (opened, closed); GRDB's `StatementArguments` boxes
/// each of its 17 values as a `DatabaseValue` in an array first, a third of the writer's own CPU
/// in a churn profile. Records go up to 64 to a statement, as each run of a statement opens a
/// cursor on the table and each of its indexes and sets up its checks: history-bench's writer
/// went from about 123,000 sessions a second to about 142,000 (2026-12-01 22:17). Other
/// statements go through GRDB as usual. Skipped here, and unused by the history: GRDB's
/// transaction observers and authorizer.
struct SessionUpsert {
    /// Records a statement, largest first: a batch goes in statements of 64 while it can, then
    /// of 8, then one at a time, so at most 7 records of a batch go one a statement.
    private static let sizes = [64, 8, 1]
    private static let statements = sizes.map { (size: $0, sql: HistoryDatabase.upsertSQL(rows: $0)) }
    private static let parametersPerRecord: Int32 = 17

    private let db: Database
    private let instance: String
    private let statements: [(size: Int, sql: String)]

    init(_ db: Database, instance: String) {
        self.db = db
        self.instance = instance
        // An SQLite built to take fewer parameters a statement (999 before 3.32; 64 records
        // need 1,088) gets the sizes it can take.
        let parameters = db.sqliteConnection.map { sqlite3_limit($0, SQLITE_LIMIT_VARIABLE_NUMBER, -1) } ?? 999
        statements = Self.statements.filter { $0.size == 1 || Int32($0.size) * Self.parametersPerRecord <= parameters }
    }

    /// Upserts `rows` in their order, which matters when one session's open and close are both
    /// among them.
    func execute(_ rows: [SessionRecord]) throws {
        var start = rows.startIndex
        for (size, sql) in statements where rows.endIndex - start >= size {
            let statement = try db.cachedStatement(sql: sql)
            while rows.endIndex - start >= size {
                try run(statement, rows[start..<start + size])
                start += size
            }
        }
    }

    private func run(_ statement: Statement, _ rows: ArraySlice<SessionRecord>) throws {
        let handle = statement.sqliteStatement
        // A failed step was reported already; reset's code repeats it.
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        defer { sqlite3_clear_bindings(handle) }
        var base: Int32 = 0
        for row in rows {
            try bind(row, after: base, handle, statement)
            base += Self.parametersPerRecord
        }
        try check(sqlite3_step(handle), expected: SQLITE_DONE, statement)
    }

    /// Binds one record's 17 values to the parameters after the first `base`.
    private func bind(_ row: SessionRecord, after base: Int32, _ handle: OpaquePointer, _ statement: Statement) throws {
        func checked(_ code: Int32) throws { try check(code, statement) }
        try checked(Self.bind(row.id, base + 1, handle))
        try checked(Self.bind(row.role, base + 2, handle))
        try checked(Self.bind(row.listener, base + 3, handle))
        try checked(Self.bind(row.name, base + 4, handle))
        try checked(Self.bind(row.localAddress, base + 5, handle))
        try checked(Self.bind(row.remoteAddress, base + 6, handle))
        try checked(Self.bind(row.state, base + 7, handle))
        try checked(Self.bind(row.openedAt, base + 8, handle))
        try checked(Self.bind(row.closedAt, base + 9, handle))
        try checked(Self.bind(row.closeReason, base + 10, handle))
        try checked(sqlite3_bind_int64(handle, base + 11, row.bytesIn))
        try checked(sqlite3_bind_int64(handle, base + 12, row.bytesOut))
        try checked(Self.bind(row.partnerId, base + 13, handle))
        try checked(sqlite3_bind_int64(handle, base + 14, row.capture ? 1 : 0))
        try checked(sqlite3_bind_int64(handle, base + 15, row.captureTruncated ? 1 : 0))
        try checked(Self.bind(SessionFaultRecord.column(row.faults), base + 16, handle))
        try checked(Self.bind(instance, base + 17, handle))
    }

    /// Throws what SQLite said unless it said `expected`. GRDB interrupts a cancelled task's
    /// statement; that is a cancellation (the writer keeps the batch and says nothing), as GRDB
    /// itself reports it, not a failing store.
    private func check(_ code: Int32, expected: Int32 = SQLITE_OK, _ statement: Statement) throws {
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
