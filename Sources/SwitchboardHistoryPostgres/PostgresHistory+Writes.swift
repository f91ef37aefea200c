import Foundation
import PostgresNIO
import SwitchboardCore
import SwitchboardHistory

extension PostgresHistory {
    static let sessionColumns = [
        "id", "instance", "role", "listener", "name", "local_address", "remote_address", "state", "opened_at", "closed_at",
        "close_reason", "bytes_in", "bytes_out", "partner_id", "capture", "capture_truncated", "faults",
    ]

    /// A batch goes in with COPY into a temporary table (one round trip for thousands of rows),
    /// then one upsert from it: a session's row as last reported, never a closed one reopened.
    /// A fault log only grows, so the longer one is the later and wins, whichever record comes
    /// last (one without a log never erases one).
    static let upsertSQL = """
        INSERT INTO sessions (\(sessionColumns.joined(separator: ", ")))
        SELECT \(sessionColumns.joined(separator: ", ")) FROM incoming_sessions
        ON CONFLICT (id) DO UPDATE SET
            state = excluded.state, closed_at = excluded.closed_at, close_reason = excluded.close_reason,
            bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out,
            partner_id = coalesce(excluded.partner_id, sessions.partner_id),
            capture_truncated = excluded.capture_truncated,
            faults = CASE WHEN jsonb_array_length(excluded.faults) >= coalesce(jsonb_array_length(sessions.faults), 0)
                          THEN excluded.faults ELSE sessions.faults END
        WHERE excluded.state <> 'open' OR sessions.state = 'open'
        """

    public func write(sessions: [SessionRecord], messages: [MessageRecord], aliveAt now: Date) async throws {
        let rows = Self.merged(sessions)
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        try await transaction { connection in
            try await self.prepare(connection)
            if !rows.isEmpty {
                var copy = CopyText(capacity: rows.count * 200)
                for row in rows { Self.encode(row, instance: instance, into: &copy) }
                let buffer = copy.buffer
                try await connection.copyFrom(table: "incoming_sessions", columns: Self.sessionColumns, logger: logger) { writer in
                    try await writer.write(buffer)
                }
                try await connection.query(PostgresQuery(unsafeSQL: Self.upsertSQL), logger: logger)
            }
            if !messages.isEmpty {
                var copy = CopyText(capacity: messages.reduce(0) { $0 + 80 + 2 * $1.data.count })
                for m in messages {
                    copy.text(m.sessionId)
                    copy.integer(m.seq)
                    copy.text(m.direction)
                    copy.text(m.at)
                    copy.bytes(m.data)
                    copy.endRow()
                }
                let buffer = copy.buffer
                try await connection.copyFrom(table: "incoming_messages", columns: ["session_id", "seq", "direction", "at", "data"], logger: logger) { writer in
                    try await writer.write(buffer)
                }
                try await connection.query("""
                    INSERT INTO messages (session_id, seq, direction, at, data)
                    SELECT DISTINCT ON (session_id, seq) session_id, seq, direction, at, data FROM incoming_messages
                    ON CONFLICT (session_id, seq) DO UPDATE SET direction = excluded.direction, at = excluded.at, data = excluded.data
                    """, logger: logger)
            }
            try await connection.query("UPDATE instances SET last_alive = greatest(last_alive, \(RFC3339.format(now))::timestamptz) WHERE instance = \(instance)", logger: logger)
        }
    }

    /// The temporary tables COPY fills, once per connection; emptied at each commit.
    private func prepare(_ connection: PostgresConnection) async throws {
        guard !prepared.withLock({ $0.contains(connection.id) }) else { return }
        let logger = Self.quiet(self.logger)
        try await connection.query(
            "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_sessions (LIKE sessions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", logger: logger)
        try await connection.query(
            "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_messages (LIKE messages INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", logger: logger)
        _ = prepared.withLock { $0.insert(connection.id) }
    }

    static func encode(_ row: SessionRecord, instance: String, into copy: inout CopyText) {
        copy.text(row.id)
        copy.text(instance)
        copy.text(row.role)
        copy.text(row.listener)
        copy.text(row.name)
        copy.text(row.localAddress)
        copy.text(row.remoteAddress)
        copy.text(row.state)
        copy.text(row.openedAt)
        copy.text(row.closedAt)
        copy.text(row.closeReason)
        copy.integer(row.bytesIn)
        copy.integer(row.bytesOut)
        copy.text(row.partnerId)
        copy.bool(row.capture)
        copy.bool(row.captureTruncated)
        copy.text(SessionFaultRecord.column(row.faults))
        copy.endRow()
    }

    /// One row per session, as the upsert would leave it after applying them in order: one
    /// statement cannot update a row twice. A closed state wins over an open one, else the later.
    static func merged(_ rows: [SessionRecord]) -> [SessionRecord] {
        var index: [String: Int] = [:]
        index.reserveCapacity(rows.count)
        var kept: [SessionRecord] = []
        kept.reserveCapacity(rows.count)
        for row in rows {
            guard let at = index[row.id] else {
                index[row.id] = kept.count
                kept.append(row)
                continue
            }
            let old = kept[at]
            let longest = row.faults.count >= old.faults.count ? row.faults : old.faults
            guard row.state != "open" || old.state == "open" else {
                kept[at].faults = longest
                continue
            }
            var new = row
            new.partnerId = row.partnerId ?? old.partnerId
            new.faults = longest
            kept[at] = new
        }
        return kept
    }

    public func replay(_ recovery: SessionSpool.Recovery) async throws -> Int {
        let rows = recovery.sessions
        guard !rows.isEmpty else { return 0 }
        // The spool proves the service alive when its newest record was made.
        let newest = rows.map { $0.closedAt ?? $0.openedAt }.max()!
        try await write(sessions: rows, messages: [], aliveAt: RFC3339.parse(newest) ?? Date())
        return rows.count
    }

    public func markInterrupted(now: Date) async throws -> Int {
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        return try await run { connection in
            let rows = try await connection.query("""
                WITH alive AS (SELECT coalesce((SELECT last_alive FROM instances WHERE instance = \(instance)), \(RFC3339.format(now))::timestamptz) AS at),
                marked AS (
                    UPDATE sessions SET state = 'interrupted', close_reason = 'interrupted', closed_at = greatest(opened_at, (SELECT at FROM alive))
                    WHERE instance = \(instance) AND state = 'open' RETURNING 1)
                SELECT count(*) FROM marked
                """, logger: logger)
            var count = 0
            for try await n in rows.decode(Int.self) { count = n }
            return count
        }
    }
}
