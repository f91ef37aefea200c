import Foundation
import NIOCore
import PostgresNIO
import SwitchboardCore
import SwitchboardHistory

/// Listeners and reconnecting sessions, each instance's its own: the key is (instance, name).
extension PostgresHistory {
    public func saveListener(_ spec: ListenerSpec, createdAt: Date) async throws {
        let r = ListenerRecord(spec, createdAt: createdAt, instance: instance)
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        try await run { connection in
            try await connection.query("""
                INSERT INTO listeners (instance, name, address, mode, reply, close_after_reply, max_sessions, capture, forward_to,
                                       reset_on_failure, options, faults, enabled, created_at)
                VALUES (\(instance), \(r.name), \(r.address), \(r.mode), \(r.reply.map { ByteBuffer(bytes: $0) }), \(r.closeAfterReply),
                        \(r.maxSessions), \(r.capture), \(r.forwardTo), \(r.resetOnFailure), \(r.options)::jsonb, \(r.faults)::jsonb, \(r.enabled),
                        \(r.createdAt)::timestamptz)
                ON CONFLICT (instance, name) DO UPDATE SET
                    address = excluded.address, mode = excluded.mode, reply = excluded.reply, close_after_reply = excluded.close_after_reply,
                    max_sessions = excluded.max_sessions, capture = excluded.capture, forward_to = excluded.forward_to,
                    reset_on_failure = excluded.reset_on_failure, options = excluded.options, faults = excluded.faults,
                    enabled = excluded.enabled, created_at = excluded.created_at
                """, logger: logger)
        }
    }

    public func deleteListener(named name: String) async throws {
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        try await run { connection in
            try await connection.query("DELETE FROM listeners WHERE instance = \(instance) AND name = \(name)", logger: logger)
        }
    }

    public func saveReconnecting(_ spec: ConnectSpec, createdAt: Date) async throws {
        let r = ReconnectingRecord(spec, createdAt: createdAt, instance: instance)
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        try await run { connection in
            try await connection.query("""
                INSERT INTO reconnecting_sessions (instance, name, connect, send, capture, connect_timeout_ms, initial_ms, max_ms, jitter,
                                                   options, faults, created_at)
                VALUES (\(instance), \(r.name), \(r.connect), \(r.send.map { ByteBuffer(bytes: $0) }), \(r.capture), \(r.connectTimeoutMs),
                        \(r.initialMs), \(r.maxMs), \(r.jitter), \(r.options)::jsonb, \(r.faults)::jsonb, \(r.createdAt)::timestamptz)
                ON CONFLICT (instance, name) DO UPDATE SET
                    connect = excluded.connect, send = excluded.send, capture = excluded.capture,
                    connect_timeout_ms = excluded.connect_timeout_ms, initial_ms = excluded.initial_ms, max_ms = excluded.max_ms,
                    jitter = excluded.jitter, options = excluded.options, faults = excluded.faults, created_at = excluded.created_at
                """, logger: logger)
        }
    }

    public func deleteReconnecting(named name: String) async throws {
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        try await run { connection in
            try await connection.query("DELETE FROM reconnecting_sessions WHERE instance = \(instance) AND name = \(name)", logger: logger)
        }
    }

    /// Replaces the stored list. A target with no stored row (deleted meanwhile) is an error:
    /// the change would not survive a restart.
    public func saveFaults(_ faults: [Fault], on target: FaultTarget) async throws {
        let table: String, name: String
        switch target {
        case .listener(let listener): (table, name) = ("listeners", listener)
        case .reconnecting(let session): (table, name) = ("reconnecting_sessions", session)
        case .session: return
        }
        let text = StoredFaults.encode(faults)
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        var bindings = PostgresBindings()
        bindings.append(text)
        bindings.append(instance)
        bindings.append(name)
        let query = PostgresQuery(unsafeSQL: "UPDATE \(table) SET faults = $1::jsonb WHERE instance = $2 AND name = $3 RETURNING 1", binds: bindings)
        let changed = try await run { connection in
            var rows = 0
            for try await _ in try await connection.query(query, logger: logger) { rows += 1 }
            return rows
        }
        guard changed == 1 else { throw PostgresStoreError("\(target) is not in the PostgreSQL history for instance '\(instance)'") }
    }

    public func savedListeners() async throws -> [SavedListener] {
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        return try await run { connection in
            var saved: [SavedListener] = []
            let rows = try await connection.query("""
                SELECT name, address, mode, reply, close_after_reply, max_sessions, capture,
                       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), forward_to, reset_on_failure, options::text,
                       faults::text, enabled
                FROM listeners WHERE instance = \(instance) ORDER BY created_at
                """, logger: logger)
            for try await (name, address, mode, reply, closeAfterReply, maxSessions, capture, createdAt, forwardTo, resetOnFailure, options, faults, enabled)
                in rows.decode((String, String, String, ByteBuffer?, Bool, Int?, Bool, String, String?, Bool, String?, String?, Bool).self) {
                saved.append(ListenerRecord(
                    name: name, address: address, mode: mode, reply: reply.map { Data($0.readableBytesView) }, closeAfterReply: closeAfterReply,
                    maxSessions: maxSessions, capture: capture, createdAt: createdAt, forwardTo: forwardTo, resetOnFailure: resetOnFailure,
                    options: options, faults: faults, enabled: enabled, instance: instance
                ).saved)
            }
            return saved
        }
    }

    public func savedReconnecting() async throws -> [SavedReconnecting] {
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        return try await run { connection in
            var saved: [SavedReconnecting] = []
            let rows = try await connection.query("""
                SELECT name, connect, send, capture, connect_timeout_ms, initial_ms, max_ms, jitter, options::text,
                       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), faults::text
                FROM reconnecting_sessions WHERE instance = \(instance) ORDER BY created_at
                """, logger: logger)
            for try await (name, connect, send, capture, connectTimeoutMs, initialMs, maxMs, jitter, options, createdAt, faults)
                in rows.decode((String, String, ByteBuffer?, Bool, Int64, Int64, Int64, Bool, String?, String, String?).self) {
                saved.append(ReconnectingRecord(
                    name: name, connect: connect, send: send.map { Data($0.readableBytesView) }, capture: capture,
                    connectTimeoutMs: connectTimeoutMs, initialMs: initialMs, maxMs: maxMs, jitter: jitter, options: options,
                    createdAt: createdAt, faults: faults, instance: instance
                ).saved)
            }
            return saved
        }
    }
}
