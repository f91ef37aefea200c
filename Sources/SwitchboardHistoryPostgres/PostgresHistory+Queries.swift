import Foundation
import PostgresNIO
import SwitchboardCore
import SwitchboardHistory

extension HistoryFilter {
    /// The WHERE clause in PostgreSQL's terms, the same conditions as the SQLite file's
    /// (`sql(before:)`): time bounds are also id bounds (ULIDs start with their millisecond),
    /// half-open, and the cursor is the last id of the previous page.
    func postgresWhere(before cursor: String?, bindings: inout PostgresBindings) -> String {
        var clauses: [String] = []
        func add(_ clause: (String) -> String, _ value: String) {
            bindings.append(value)
            clauses.append(clause("$\(bindings.count)"))
        }
        if let listener { add({ "listener = \($0)" }, listener) }
        if let name { add({ "name = \($0)" }, name) }
        if let instance { add({ "instance = \($0)" }, instance) }
        if let role { add({ "role = \($0)" }, role.rawValue) }
        if let state { add({ "state = \($0)" }, state.rawValue) }
        // The partial index's condition, which the planner cannot derive from a parameter.
        if let state, state != .closed { clauses.append("state <> 'closed'") }
        if let remotePattern { add({ "remote_address LIKE \($0) ESCAPE '\\'" }, remotePattern) }
        if let since {
            add({ "id >= \($0)" }, SessionID.lowerBound(at: since.addingTimeInterval(-0.002)))
            add({ "opened_at >= \($0)::timestamptz" }, RFC3339.format(since))
        }
        if let until {
            add({ "id < \($0)" }, SessionID.lowerBound(at: until.addingTimeInterval(0.002)))
            add({ "opened_at < \($0)::timestamptz" }, RFC3339.format(until))
        }
        if let fault {
            // `faults IS NOT NULL` word for word: the condition of the sessions_with_faults index.
            clauses.append("faults IS NOT NULL")
            add({ "EXISTS (SELECT 1 FROM jsonb_array_elements(faults) AS f WHERE f ->> 'name' = \($0) AND (f ->> 'applied')::boolean)" }, fault)
        }
        if let minBytes {
            bindings.append(minBytes)
            clauses.append("bytes_in + bytes_out >= $\(bindings.count)")
        }
        if let cursor { add({ "id < \($0)" }, cursor) }
        return clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
    }
}

extension PostgresHistory {
    /// The columns of a session as `SessionRecord` has them: times as RFC 3339 text with
    /// milliseconds in UTC, exactly as the SQLite file stores them.
    static let sessionSelect = """
        SELECT id, instance, role, listener, name, local_address, remote_address, state,
               to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               close_reason, bytes_in, bytes_out, partner_id, capture, capture_truncated, faults::text
        FROM sessions
        """

    static func session(_ row: PostgresRow) throws -> SessionRecord {
        let cells = row.makeRandomAccess()
        return SessionRecord(
            id: try cells[0].decode(String.self), role: try cells[2].decode(String.self), listener: try cells[3].decode(String?.self),
            name: try cells[4].decode(String?.self), localAddress: try cells[5].decode(String?.self),
            remoteAddress: try cells[6].decode(String?.self), state: try cells[7].decode(String.self),
            openedAt: try cells[8].decode(String.self), closedAt: try cells[9].decode(String?.self),
            closeReason: try cells[10].decode(String?.self), bytesIn: try cells[11].decode(Int64.self),
            bytesOut: try cells[12].decode(Int64.self), partnerId: try cells[13].decode(String?.self),
            capture: try cells[14].decode(Bool.self), captureTruncated: try cells[15].decode(Bool.self),
            faults: SessionFaultRecord.log(column: try cells[16].decode(String?.self)), instance: try cells[1].decode(String?.self)
        )
    }

    private func sessions(_ sql: String, _ bindings: PostgresBindings) async throws -> [SessionRecord] {
        let logger = Self.quiet(self.logger)
        return try await run { connection in
            var rows: [SessionRecord] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
                rows.append(try Self.session(row))
            }
            return rows
        }
    }

    public func page(_ filter: HistoryFilter, limit: Int, cursor: String?) async throws -> HistoryPage {
        var before: String?
        if let cursor {
            guard let id = HistoryCursor.parse(cursor) else { throw HistoryCursor.Invalid(cursor: cursor) }
            before = id
        }
        var bindings = PostgresBindings()
        let rows: [SessionRecord]
        if let minBytes = filter.minBytes {
            // As the SQLite file does: the newest ids of each size bucket that can match, at most a
            // page from each (an index seek apiece), then the newest of those. One subquery run
            // per bucket (LATERAL), not a union of 40: planning those cost ~30 ms a page.
            var others = filter
            others.minBytes = nil
            let otherWhere = others.postgresWhere(before: before, bindings: &bindings)
            let lowest = HistoryFilter.bytesBucket(minBytes)
            bindings.append(minBytes)
            var conditions = ["bytes_bucket = b", "(b > \(lowest) OR bytes_in + bytes_out >= $\(bindings.count))"]
            if !otherWhere.isEmpty { conditions.append(String(otherWhere.dropFirst("WHERE ".count))) }
            rows = try await sessions("""
                \(Self.sessionSelect) WHERE id IN (
                    SELECT newest.id FROM generate_series(\(lowest), \(HistoryFilter.topBytesBucket)) AS b,
                    LATERAL (SELECT id FROM sessions WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT \(limit + 1)) AS newest)
                ORDER BY id DESC LIMIT \(limit + 1)
                """, bindings)
        } else {
            let whereClause = filter.postgresWhere(before: before, bindings: &bindings)
            rows = try await sessions("\(Self.sessionSelect) \(whereClause) ORDER BY id DESC LIMIT \(limit + 1)", bindings)
        }
        let page = Array(rows.prefix(limit))
        return HistoryPage(sessions: page, nextCursor: rows.count > limit ? page.last.map { HistoryCursor.make(after: $0.id) } : nil)
    }

    public func session(id: String) async throws -> SessionRecord? {
        var bindings = PostgresBindings()
        bindings.append(id)
        return try await sessions("\(Self.sessionSelect) WHERE id = $1", bindings).first
    }

    public func messages(sessionID: String, after: Int64, limit: Int) async throws -> [MessageRecord] {
        let logger = Self.quiet(self.logger)
        return try await run { connection in
            var messages: [MessageRecord] = []
            let rows = try await connection.query("""
                SELECT session_id, seq, direction, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), data
                FROM messages WHERE session_id = \(sessionID) AND seq > \(after) ORDER BY seq LIMIT \(limit)
                """, logger: logger)
            for try await (session, seq, direction, at, data) in rows.decode((String, Int64, String, String, ByteBuffer).self) {
                messages.append(MessageRecord(sessionId: session, seq: seq, direction: direction, at: at, data: Data(data.readableBytesView)))
            }
            return messages
        }
    }

    public func stats(since: Date?, until: Date?) async throws -> [HistoryStats] {
        var bindings = PostgresBindings()
        let whereClause = HistoryFilter(since: since, until: until).postgresWhere(before: nil, bindings: &bindings)
        let logger = Self.quiet(self.logger)
        let query = PostgresQuery(unsafeSQL: """
            SELECT listener, role, state, count(*),
                   least(coalesce(sum(bytes_in), 0), 9223372036854775807)::bigint,
                   least(coalesce(sum(bytes_out), 0), 9223372036854775807)::bigint
            FROM sessions \(whereClause)
            GROUP BY listener, role, state ORDER BY listener COLLATE "C" NULLS FIRST, role, state
            """, binds: bindings)
        return try await run { connection in
            var groups: [HistoryStats] = []
            for try await (listener, role, state, sessions, bytesIn, bytesOut) in try await connection.query(query, logger: logger)
                .decode((String?, String, String, Int64, Int64, Int64).self) {
                groups.append(HistoryStats(listener: listener, role: role, state: state, sessions: sessions, bytesIn: bytesIn, bytesOut: bytesOut))
            }
            return groups
        }
    }

    public func count() async throws -> Int {
        let logger = Self.quiet(self.logger)
        return try await run { connection in
            var count = 0
            for try await n in try await connection.query("SELECT count(*) FROM sessions", logger: logger).decode(Int.self) { count = n }
            return count
        }
    }
}
