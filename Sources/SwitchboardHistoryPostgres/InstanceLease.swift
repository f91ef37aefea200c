import Foundation
import Logging
import PostgresNIO
import SwitchboardHistory
import Synchronization

/// One live service per instance name: the holder keeps a session-level advisory lock on a
/// connection of its own for as long as it runs, and its description in `instances`. The server
/// drops the lock when that connection ends, so a killed service frees its instance at once
/// (the TCP keepalives asked for below bound how long a vanished host can hold it).
///
/// A connection lost while running (the server restarted) is made again and the lock retaken;
/// until then, or if another service of the same name took it meanwhile, `problem` says so and
/// the writer holds its records (in the spool) rather than write for an instance it does not hold.
final class InstanceLease: Sendable {
    let instance: String
    private let key: Int64
    private let pool: ConnectionPool
    private let server: String
    private let logger: Logger
    private struct State {
        var connection: LiveConnection?
        var problem: String?
        var keeper: Task<Void, Never>?
    }
    private let state = Mutex(State())

    /// How often the holder checks that its lock's connection is alive.
    static let checkEvery = Duration.seconds(1)

    /// Takes the instance, or throws `StoreHeld` naming the live holder.
    static func take(instance: String, pool: ConnectionPool, server: String, logger: Logger) async throws -> InstanceLease {
        let lease = InstanceLease(instance: instance, pool: pool, server: server, logger: logger)
        let connection = try await pool.connect()
        do {
            if let holder = try await lease.lock(on: connection) {
                throw StoreHeld(description: "instance '\(instance)' is held by another live switchboard (\(holder)) in the PostgreSQL history at \(server); stop it first, or give this one another --instance")
            }
        } catch {
            try? await connection.close()
            throw error
        }
        lease.state.withLock { $0.connection = connection }
        lease.startKeeping()
        return lease
    }

    private init(instance: String, pool: ConnectionPool, server: String, logger: Logger) {
        self.instance = instance
        key = Self.key(instance)
        self.pool = pool
        self.server = server
        self.logger = logger
    }

    /// FNV-1a of the name, as the lock's 64-bit key: collisions among a fleet's names are
    /// as likely as 1 in 10^16.
    static func key(_ instance: String) -> Int64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in "switchboard instance \(instance)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: hash)
    }

    /// Nil once locked and described; else the holder's description.
    private func lock(on connection: LiveConnection) async throws -> String? {
        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger)
        var locked = false
        for try await value in rows.decode(Bool.self) { locked = value }
        guard locked else {
            var holder = "holder unknown"
            for try await text in try await connection.query("SELECT holder FROM instances WHERE instance = \(instance)", logger: logger).decode(String.self) {
                holder = text
            }
            return holder
        }
        // last_alive stays: it is the previous run's, the time its open sessions were last seen
        // (none for a new instance: the writer's first batch sets it).
        try await connection.query("""
            INSERT INTO instances (instance, holder, started_at, last_alive) VALUES (\(instance), \(InstanceName.holder(instance)), now(), '-infinity')
            ON CONFLICT (instance) DO UPDATE SET holder = excluded.holder, started_at = excluded.started_at
            """, logger: logger)
        return nil
    }

    var problem: String? { state.withLock { $0.problem } }

    private func startKeeping() {
        let task = Task { [self] in
            var failures = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: failures == 0 ? Self.checkEvery : .milliseconds(min(5_000, 200 << min(failures, 5))))
                if Task.isCancelled { return }
                failures = await check() ? 0 : failures + 1
            }
        }
        state.withLock { $0.keeper = task }
    }

    /// True while the lock is held (checked with a query on its connection, retaken on a new
    /// connection when that one is gone).
    private func check() async -> Bool {
        if let connection = state.withLock({ $0.connection }) {
            do {
                let logger = self.logger
                try await withDeadline(.seconds(3), "the connection holding the instance") {
                    try await connection.query("SELECT 1", logger: logger)
                }
                return true
            } catch {
                state.withLock { $0.connection = nil }
                // Not awaited: a connection that stopped answering may not answer its close.
                connection.close().whenComplete { _ in _ = connection }
                note("the connection holding instance '\(instance)' was lost (\(PostgresStoreError.summary(error, server: server))); retaking the instance")
            }
        }
        do {
            let connection = try await withDeadline(.seconds(5), "PostgreSQL at \(server)") { [pool] in try await pool.connect() }
            if let holder = try await withDeadline(.seconds(5), "PostgreSQL at \(server)", { try await self.lock(on: connection) }) {
                try? await connection.close()
                note("instance '\(instance)' is now held by another live switchboard (\(holder)); this one no longer writes the history")
                return false
            }
            state.withLock { $0.connection = connection; $0.problem = nil }
            logger.notice("the instance is held again; history writes resume", metadata: ["instance": "\(instance)"])
            return true
        } catch {
            note("instance '\(instance)' cannot be retaken: \(PostgresStoreError.summary(error, server: server))")
            return false
        }
    }

    private func note(_ problem: String) {
        let changed = state.withLock { s -> Bool in
            defer { s.problem = problem }
            return s.problem != problem
        }
        if changed { logger.error("\(problem)") }
    }

    /// Lets go of the instance (the lock goes with its connection).
    func release() async {
        let (task, connection) = state.withLock { s in
            defer { s.keeper = nil; s.connection = nil }
            return (s.keeper, s.connection)
        }
        task?.cancel()
        if let connection {
            // Closing the connection frees the lock; unlocking first is only tidier.
            let (key, logger) = (self.key, self.logger)
            _ = try? await withDeadline(.seconds(2), "the instance's unlock") {
                try await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
            }
            connection.close().whenComplete { _ in _ = connection }
        }
    }
}
