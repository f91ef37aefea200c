import Foundation
import NIOCore
import NIOFoundationCompat
import PostgresNIO
import SwitchboardCore
import SwitchboardHistory

extension PostgresHistory {
    static let sessionColumns = [
        "id", "instance", "role", "listener", "name", "local_address", "remote_address", "state", "opened_at", "closed_at",
        "close_reason", "bytes_in", "bytes_out", "partner_id", "capture", "capture_truncated", "faults",
    ]

    /// A batch goes in as one statement: each column one array bind, `unnest` turns them into
    /// rows, and the upsert keeps a session's row as last reported, never a closed one reopened.
    /// A fault log only grows, so the longer one is the later and wins, whichever record comes
    /// last (one without a log never erases one). Not COPY: postgres-nio 1.33 traps (a
    /// precondition, the whole process) when the connection is lost in the middle of one.
    static let upsertSQL = """
        INSERT INTO sessions (\(sessionColumns.joined(separator: ", ")))
        SELECT id, $2, role, listener, name, local_address, remote_address, state, opened_at::timestamptz, closed_at::timestamptz,
               close_reason, bytes_in, bytes_out, partner_id, capture, capture_truncated, faults::jsonb
        FROM unnest($1::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                    $11::text[], $12::int8[], $13::int8[], $14::text[], $15::bool[], $16::bool[], $17::text[])
             AS incoming(id, role, listener, name, local_address, remote_address, state, opened_at, closed_at,
                         close_reason, bytes_in, bytes_out, partner_id, capture, capture_truncated, faults)
        ON CONFLICT (id) DO UPDATE SET
            state = excluded.state, closed_at = excluded.closed_at, close_reason = excluded.close_reason,
            bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out,
            partner_id = coalesce(excluded.partner_id, sessions.partner_id),
            capture_truncated = excluded.capture_truncated,
            faults = CASE WHEN jsonb_array_length(excluded.faults) >= coalesce(jsonb_array_length(sessions.faults), 0)
                          THEN excluded.faults ELSE sessions.faults END
        WHERE excluded.state <> 'open' OR sessions.state = 'open'
        """

    /// Captured chunks, the same way; a chunk written twice (a batch retried) is written once.
    static let messagesSQL = """
        INSERT INTO messages (session_id, seq, direction, at, data)
        SELECT DISTINCT ON (session_id, seq) session_id, seq, direction, at::timestamptz, data
        FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::bytea[]) AS incoming(session_id, seq, direction, at, data)
        ON CONFLICT (session_id, seq) DO UPDATE SET direction = excluded.direction, at = excluded.at, data = excluded.data
        """

    public func write(sessions: [SessionRecord], messages: [MessageRecord], aliveAt now: Date) async throws {
        let rows = Self.merged(sessions)
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        let upsert = rows.isEmpty ? nil : Self.upsert(rows, instance: instance)
        let insert = messages.isEmpty ? nil : Self.insert(messages)
        try await transaction { connection in
            if let upsert { try await connection.query(upsert, logger: logger) }
            if let insert { try await connection.query(insert, logger: logger) }
            try await connection.query("UPDATE instances SET last_alive = greatest(last_alive, \(RFC3339.format(now))::timestamptz) WHERE instance = \(instance)", logger: logger)
        }
    }

    /// The upsert with its binds, one array a column in `upsertSQL`'s order.
    static func upsert(_ rows: [SessionRecord], instance: String) -> PostgresQuery {
        func texts(_ bytesEach: Int) -> TextArray { TextArray(capacity: rows.count * (4 + bytesEach)) }
        var (id, role, listener, name, local, remote) = (texts(26), texts(6), texts(16), texts(16), texts(21), texts(21))
        var (state, opened, closed, reason, partner, faults) = (texts(6), texts(24), texts(24), texts(12), texts(26), texts(0))
        var bytesIn: [Int64] = [], bytesOut: [Int64] = [], capture: [Bool] = [], truncated: [Bool] = []
        bytesIn.reserveCapacity(rows.count)
        bytesOut.reserveCapacity(rows.count)
        capture.reserveCapacity(rows.count)
        truncated.reserveCapacity(rows.count)
        for row in rows {
            id.append(row.id)
            role.append(row.role)
            listener.append(row.listener)
            name.append(row.name)
            local.append(row.localAddress)
            remote.append(row.remoteAddress)
            state.append(row.state)
            opened.append(row.openedAt)
            closed.append(row.closedAt)
            reason.append(row.closeReason)
            bytesIn.append(row.bytesIn)
            bytesOut.append(row.bytesOut)
            partner.append(row.partnerId)
            capture.append(row.capture)
            truncated.append(row.captureTruncated)
            faults.append(SessionFaultRecord.column(row.faults))
        }
        var binds = PostgresBindings(capacity: 17)
        binds.append(id)
        binds.append(instance)
        for column in [role, listener, name, local, remote, state, opened, closed, reason] { binds.append(column) }
        binds.append(bytesIn)
        binds.append(bytesOut)
        binds.append(partner)
        binds.append(capture)
        binds.append(truncated)
        binds.append(faults)
        return PostgresQuery(unsafeSQL: upsertSQL, binds: binds)
    }

    /// The messages' insert with its binds.
    static func insert(_ messages: [MessageRecord]) -> PostgresQuery {
        var session = TextArray(capacity: messages.count * 30), direction = TextArray(capacity: messages.count * 7)
        var at = TextArray(capacity: messages.count * 28)
        var seq: [Int64] = [], data: [ByteBuffer] = []
        seq.reserveCapacity(messages.count)
        data.reserveCapacity(messages.count)
        for m in messages {
            session.append(m.sessionId)
            seq.append(m.seq)
            direction.append(m.direction)
            at.append(m.at)
            data.append(ByteBuffer(data: m.data))
        }
        var binds = PostgresBindings(capacity: 5)
        binds.append(session)
        binds.append(seq)
        binds.append(direction)
        binds.append(at)
        binds.append(data)
        return PostgresQuery(unsafeSQL: messagesSQL, binds: binds)
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
