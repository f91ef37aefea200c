import Foundation
import GRDB
import SwitchboardCore

/// Which sessions a history query wants. Every field narrows; none given means all.
public struct HistoryFilter: Sendable {
    public var listener: String?
    public var name: String?
    public var role: SessionRole?
    public var state: HistoryState?
    /// An address (`127.0.0.1:9000`) or a prefix of one (`127.0.0.`, `[::1]`).
    public var remote: String?
    public var since: Date?
    public var until: Date?
    public var minBytes: Int64?
    /// Sessions a fault of this name applied to (met and drawn to apply).
    public var fault: String?
    /// Sessions of this service (`--instance`) only.
    public var instance: String?

    public init(listener: String? = nil, name: String? = nil, role: SessionRole? = nil, state: HistoryState? = nil,
                remote: String? = nil, since: Date? = nil, until: Date? = nil, minBytes: Int64? = nil, fault: String? = nil,
                instance: String? = nil) {
        self.instance = instance
        self.listener = listener
        self.name = name
        self.role = role
        self.state = state
        self.remote = remote
        self.since = since
        self.until = until
        self.minBytes = minBytes
        self.fault = fault
    }

    /// No condition at all.
    var isEmpty: Bool {
        listener == nil && name == nil && role == nil && state == nil && remote == nil && since == nil && until == nil && minBytes == nil
            && fault == nil && instance == nil
    }

    /// The `bytes_bucket` of a size: its bit length, at most `topBytesBucket` (the columns'
    /// expression in migrations/0010 and the PostgreSQL schema).
    public static func bytesBucket(_ bytes: Int64) -> Int {
        guard bytes > 0 else { return 0 }
        return min(topBytesBucket, 64 - bytes.leadingZeroBitCount)
    }

    public static let topBytesBucket = 48

    /// `remote` as a LIKE pattern: the prefix with LIKE's own characters escaped by `\`.
    public var remotePattern: String? {
        remote.map { $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%" }
    }

    /// The WHERE clause and its arguments; `opened_at` bounds are half-open: since ≤ t < until.
    func sql(before cursor: String?) -> (String, StatementArguments) {
        var clauses: [String] = []
        var arguments = StatementArguments()
        func add(_ clause: String, _ value: (any DatabaseValueConvertible)?) {
            clauses.append(clause)
            _ = arguments.append(contentsOf: [value])
        }
        if let listener { add("listener = ?", listener) }
        if let name { add("name = ?", name) }
        // With a selective filter (listener, name) present, the unary + keeps SQLite from
        // walking the state index instead: 3 values in a million rows, seen at 800 ms against
        // 2 ms for an empty first page. Alone, state may use its index.
        let selective = listener != nil || name != nil
        if let role { add(selective ? "+role = ?" : "role = ?", role.rawValue) }
        if let state {
            add(selective ? "+state = ?" : "state = ?", state.rawValue)
            // The state index holds only sessions that are not closed; SQLite uses a partial
            // index only when the query states its condition word for word.
            if !selective && state != .closed { clauses.append("state != 'closed'") }
        }
        if let remotePattern { add("remote_address LIKE ? ESCAPE '\\'", remotePattern) }
        // No index: a file's sessions are nearly all its one instance's (migrations/0009).
        if let instance { add("instance = ?", instance) }
        // Ids are ULIDs: their first ten characters are the opening millisecond, so a time range
        // is also an id range on the primary key, in the order pages are read. A millisecond of
        // slack covers an id made just before its opened_at was taken; opened_at decides.
        if let since {
            add("id >= ?", SessionID.lowerBound(at: since.addingTimeInterval(-0.002)))
            add("opened_at >= ?", RFC3339.format(since))
        }
        if let until {
            add("id < ?", SessionID.lowerBound(at: until.addingTimeInterval(0.002)))
            add("opened_at < ?", RFC3339.format(until))
        }
        if let fault {
            // `faults IS NOT NULL` word for word: the condition of the sessions_with_faults index.
            clauses.append("faults IS NOT NULL")
            add("EXISTS (SELECT 1 FROM json_each(sessions.faults) WHERE value ->> 'name' = ? AND value ->> 'applied')", fault)
        }
        if let minBytes { add("bytes_in + bytes_out >= ?", minBytes) }
        if let cursor { add("id < ?", cursor) }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), arguments)
    }
}

public enum HistoryState: String, Sendable, CaseIterable {
    case open, closed, interrupted
}

/// One page of history, newest first.
public struct HistoryPage: Sendable {
    public let sessions: [SessionRecord]
    /// Pass back as `cursor` for the next page; nil on the last page.
    public let nextCursor: String?

    public init(sessions: [SessionRecord], nextCursor: String?) {
        self.sessions = sessions
        self.nextCursor = nextCursor
    }
}

/// Counts and bytes for one group of sessions.
public struct HistoryStats: Codable, Sendable {
    public let listener: String?
    public let role: String
    public let state: String
    public let sessions: Int64
    public let bytesIn: Int64
    public let bytesOut: Int64

    enum CodingKeys: String, CodingKey {
        case listener, role, state, sessions
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
    }

    public init(listener: String?, role: String, state: String, sessions: Int64, bytesIn: Int64, bytesOut: Int64) {
        self.listener = listener
        self.role = role
        self.state = state
        self.sessions = sessions
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
    }

}

/// A cursor the client cannot read into: the id of the last session of a page.
public enum HistoryCursor {
    public struct Invalid: Error, CustomStringConvertible {
        public let cursor: String
        public init(cursor: String) { self.cursor = cursor }
        public var description: String { "cursor '\(cursor)' is not one this service gave out" }
    }

    public static func make(after id: String) -> String {
        Data("v1:\(id)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public static func parse(_ text: String) -> String? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard text.count <= 64, let data = Data(base64Encoded: base64),
              let decoded = String(data: data, encoding: .utf8), decoded.hasPrefix("v1:"),
              let id = SessionID(String(decoded.dropFirst(3))) else { return nil }
        return id.rawValue
    }
}

extension HistoryDatabase {
    /// A page of sessions, newest first, keyset-paginated on the id (a ULID, so time order):
    /// sessions that arrive while a reader pages land before its first page, never between pages.
    public func page(_ filter: HistoryFilter, limit: Int, cursor: String?) async throws -> HistoryPage {
        var cursorID: String?
        if let cursor {
            guard let id = HistoryCursor.parse(cursor) else { throw HistoryCursor.Invalid(cursor: cursor) }
            cursorID = id
        }
        let before = cursorID
        let rows = try await pool.read { db in
            // min_bytes decides nothing about order, and its matches may be few or many, new or
            // old: the newest ids of each size bucket that can match, at most a page from each
            // (an index seek apiece), then the newest of those (migrations/0010).
            if let minBytes = filter.minBytes {
                var others = filter
                others.minBytes = nil
                let (otherWhere, otherArguments) = others.sql(before: before)
                let lowest = HistoryFilter.bytesBucket(minBytes)
                var parts: [String] = []
                var arguments = StatementArguments()
                for bucket in lowest...HistoryFilter.topBytesBucket {
                    var conditions = ["bytes_bucket = \(bucket)"]
                    if !otherWhere.isEmpty { conditions.append(String(otherWhere.dropFirst("WHERE ".count))) }
                    _ = arguments.append(contentsOf: otherArguments)
                    if bucket == lowest {
                        conditions.append("bytes_in + bytes_out >= ?")
                        _ = arguments.append(contentsOf: [minBytes])
                    }
                    parts.append("SELECT id FROM (SELECT id FROM sessions WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT \(limit + 1))")
                }
                return try SessionRecord.fetchAll(db, sql: """
                    SELECT * FROM sessions WHERE id IN (\(parts.joined(separator: " UNION ALL "))) ORDER BY id DESC LIMIT \(limit + 1)
                    """, arguments: arguments)
            }
            let (whereClause, arguments) = filter.sql(before: before)
            return try SessionRecord.fetchAll(db, sql: "SELECT * FROM sessions \(whereClause) ORDER BY id DESC LIMIT \(limit + 1)", arguments: arguments)
        }
        let page = Array(rows.prefix(limit))
        return HistoryPage(sessions: page, nextCursor: rows.count > limit ? page.last.map { HistoryCursor.make(after: $0.id) } : nil)
    }

    public func session(id: String) async throws -> SessionRecord? {
        try await pool.read { db in try SessionRecord.fetchOne(db, key: id) }
    }

    public func messages(sessionID: String, after: Int64, limit: Int) async throws -> [MessageRecord] {
        try await pool.read { db in
            try MessageRecord.fetchAll(
                db, sql: "SELECT * FROM messages WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                arguments: [sessionID, after, limit]
            )
        }
    }

    public func stats(since: Date?, until: Date?) async throws -> [HistoryStats] {
        let (whereClause, arguments) = HistoryFilter(since: since, until: until).sql(before: nil)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT listener, role, state, count(*) AS sessions, total(bytes_in) AS bytes_in, total(bytes_out) AS bytes_out
                FROM sessions \(whereClause)
                GROUP BY listener, role, state ORDER BY listener, role, state
                """, arguments: arguments).map { row in
                HistoryStats(
                    listener: row["listener"], role: row["role"], state: row["state"], sessions: row["sessions"],
                    bytesIn: Self.sum(row["bytes_in"]), bytesOut: Self.sum(row["bytes_out"])
                )
            }
        }
    }

    /// A group's total as SQLite's `total()` gives it (a Double, which cannot overflow), at most
    /// `Int64.max`: two rows at `SessionRecord.maxBytes` already reach 2^63, where `Int64(_:)` traps.
    static func sum(_ total: Double) -> Int64 {
        total >= 0x1p63 ? .max : Int64(total)
    }

    public func count() async throws -> Int {
        try await pool.read { db in try SessionRecord.fetchCount(db) }
    }
}
