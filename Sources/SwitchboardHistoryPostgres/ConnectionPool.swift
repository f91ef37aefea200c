import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A few connections to the server, made when asked for and dropped once closed. Not
/// PostgresClient's pool: that one waits for a server that is down, while the writer must hear
/// at once that it is (to back off and say so on `/readyz`), and a start must fail with the
/// server's own reason (refused, no such database, wrong password).
actor ConnectionPool {
    private let configuration: PostgresConnection.Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let maxConnections: Int
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var nextID = 1
    private var closed = false

    init(configuration: PostgresConnection.Configuration, group: any EventLoopGroup, maxConnections: Int, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.maxConnections = maxConnections
        self.logger = logger
    }

    /// A connection of its own for as long as `body` runs; one that failed is not reused.
    @discardableResult
    func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await take()
        do {
            let result = try await body(connection)
            give(connection)
            return result
        } catch {
            // A failed statement leaves a connection usable, but one the server or the network
            // closed does not: dropping it after any failure costs a reconnect and is always right.
            discard(connection)
            throw error
        }
    }

    /// A new connection outside the pool (the instance lease holds one for its lock).
    func connect() async throws -> PostgresConnection {
        nextID += 1
        return try await PostgresConnection.connect(on: group.any(), configuration: configuration, id: nextID, logger: logger)
    }

    private func take() async throws -> PostgresConnection {
        while true {
            guard !closed else { throw PostgresStoreError("the PostgreSQL history is closed") }
            while let connection = idle.popLast() {
                if !connection.isClosed { return connection }
                open -= 1
            }
            if open < maxConnections {
                open += 1
                do {
                    return try await connect()
                } catch {
                    open -= 1
                    wakeOne()
                    throw error
                }
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    private func give(_ connection: PostgresConnection) {
        if closed || connection.isClosed {
            discard(connection)
            return
        }
        idle.append(connection)
        wakeOne()
    }

    private func discard(_ connection: PostgresConnection) {
        open -= 1
        connection.close().whenComplete { _ in _ = connection }
        wakeOne()
    }

    private func wakeOne() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }

    func close() async {
        closed = true
        let connections = idle
        idle.removeAll()
        for connection in connections { try? await connection.close() }
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}
