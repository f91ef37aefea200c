import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import SwitchboardCore
import SwitchboardHistory

/// The history in PostgreSQL, for one instance of a fleet: the same rows, filters and pages as
/// the SQLite file (`HistoryDatabase`), written by many services at once. Each holds its
/// instance's lease while it runs (`InstanceLease`); the schema is migrated at open.
public final class PostgresHistory: HistoryStore {
    public let url: PostgresURL
    public let instance: String
    let pool: ConnectionPool
    let logger: Logger
    /// Nil for a reader (`switchboard history --db postgres://...`).
    private let lease: InstanceLease?

    public var location: String { url.description }

    /// Connects (the server's own reason if it cannot: refused, no such database, a wrong
    /// password), migrates under the advisory lock, and takes the instance's lease.
    public static func open(
        _ url: PostgresURL, password: String?, instance: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> PostgresHistory {
        let pool = try Self.pool(url, password: password, group: group, logger: logger)
        do {
            try await pool.withConnection { connection in
                try await PostgresMigrations.apply(on: connection, logger: Self.quiet(logger))
            }
            let lease = try await InstanceLease.take(instance: instance, pool: pool, server: url.server, logger: logger)
            return PostgresHistory(url: url, instance: instance, pool: pool, lease: lease, logger: logger)
        } catch let held as StoreHeld {
            await pool.close()
            throw held
        } catch {
            await pool.close()
            throw PostgresStoreError(PostgresStoreError.summary(error, server: url.server))
        }
    }

    /// For reading only: no migration, no lease (a service may be running).
    public static func reader(_ url: PostgresURL, password: String?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) async throws -> PostgresHistory {
        let pool = try Self.pool(url, password: password, group: group, logger: logger)
        do {
            try await pool.withConnection { connection in
                try await connection.query("SELECT 1 FROM sessions LIMIT 1", logger: Self.quiet(logger))
            }
        } catch {
            await pool.close()
            throw PostgresStoreError(PostgresStoreError.summary(error, server: url.server))
        }
        return PostgresHistory(url: url, instance: "", pool: pool, lease: nil, logger: logger)
    }

    private init(url: PostgresURL, instance: String, pool: ConnectionPool, lease: InstanceLease?, logger: Logger) {
        self.url = url
        self.instance = instance
        self.pool = pool
        self.lease = lease
        self.logger = logger
    }

    private static func pool(_ url: PostgresURL, password: String?, group: any EventLoopGroup, logger: Logger) throws -> ConnectionPool {
        var configuration: PostgresConnection.Configuration
        if let folder = url.socketFolder {
            configuration = .init(unixSocketPath: "\(folder)/.s.PGSQL.\(url.port)", username: url.user, password: password, database: url.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch url.tls {
            case .disable:
                tls = .disable
            case .require, .verifyFull:
                var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
                if url.tls == .require { tlsConfiguration.certificateVerification = .none }
                do {
                    tls = .require(try NIOSSLContext(configuration: tlsConfiguration))
                } catch {
                    throw PostgresStoreError("cannot set up TLS for PostgreSQL at \(url.server): \(error)")
                }
            }
            configuration = .init(host: url.host, port: url.port, username: url.user, password: password, database: url.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(5)
        // The server notices a vanished client (and frees its instance lease) within ~25 s.
        configuration.options.additionalStartupParameters = [
            ("application_name", "switchboard"),
            ("tcp_keepalives_idle", "10"), ("tcp_keepalives_interval", "5"), ("tcp_keepalives_count", "3"),
        ]
        return ConnectionPool(configuration: configuration, group: group, maxConnections: 8, logger: quiet(logger))
    }

    /// postgres-nio's own lines at warning and above only: its debug lines are about its
    /// state machine, not the history, and none of ours may carry what a login sent.
    static func quiet(_ logger: Logger) -> Logger {
        var quiet = logger
        if quiet.logLevel < .warning { quiet.logLevel = .warning }
        return quiet
    }

    public func problem() -> String? { lease?.problem }

    /// Gathers the planner's statistics on the sessions now, as autovacuum does after enough
    /// rows changed: a benchmark that just filled a million rows asks for it before it times
    /// queries, rather than measure plans made for an empty table.
    public func analyze() async throws {
        let logger = Self.quiet(self.logger)
        try await run { connection in try await connection.query("ANALYZE sessions", logger: logger) }
    }

    public func close() async {
        await lease?.release()
        await pool.close()
    }

    /// How long one statement or transaction may take before the server counts as gone.
    static let answerWithin = Duration.seconds(30)

    /// Runs `body` on a pooled connection, its failure in words (server and reason).
    @discardableResult
    func run<T: Sendable>(_ body: @escaping @Sendable (LiveConnection) async throws -> T) async throws -> T {
        do {
            let pool = self.pool
            return try await withDeadline(Self.answerWithin, "PostgreSQL at \(url.server)") { try await pool.withConnection(body) }
        } catch let error as HistoryCursor.Invalid {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw PostgresStoreError(PostgresStoreError.summary(error, server: url.server))
        }
    }

    /// One transaction on one connection. No ROLLBACK after a failure: the pool closes a
    /// connection whose body failed, and the server rolls back what it had begun (a ROLLBACK
    /// on a connection that just went away is the statement that would never be answered).
    @discardableResult
    func transaction<T: Sendable>(_ body: @escaping @Sendable (LiveConnection) async throws -> T) async throws -> T {
        let logger = Self.quiet(self.logger)
        return try await run { connection in
            try await connection.query("BEGIN", logger: logger)
            let result = try await body(connection)
            try await connection.query("COMMIT", logger: logger)
            return result
        }
    }
}
