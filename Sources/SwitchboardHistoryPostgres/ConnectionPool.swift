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
    private var idle: [LiveConnection] = []
    /// Connections lent out: each counts against `maxConnections` until it comes back or is
    /// abandoned, whichever is first.
    private var lent: Set<PostgresConnection.ID> = []
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var connecting = 0
    private var nextID = 1
    private var closed = false

    init(configuration: PostgresConnection.Configuration, group: any EventLoopGroup, maxConnections: Int, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.maxConnections = maxConnections
        self.logger = logger
    }

    private var open: Int { idle.count + lent.count + connecting }

    /// A connection of its own for as long as `body` runs; one that failed is not reused. When
    /// the caller is cancelled (a deadline passed) the connection is closed and its place freed
    /// at once: a body stuck on a connection that went away must not hold the pool's places.
    @discardableResult
    func withConnection<T: Sendable>(_ body: @Sendable (LiveConnection) async throws -> T) async throws -> T {
        let connection = try await take()
        return try await withTaskCancellationHandler {
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
        } onCancel: {
            Task { await self.discard(connection) }
        }
    }

    /// A new connection outside the pool (the instance lease holds one for its lock).
    func connect() async throws -> LiveConnection {
        nextID += 1
        return LiveConnection(try await PostgresConnection.connect(on: group.any(), configuration: configuration, id: nextID, logger: logger))
    }

    private func take() async throws -> LiveConnection {
        while true {
            guard !closed else { throw PostgresStoreError("the PostgreSQL history is closed") }
            while let connection = idle.popLast() {
                if !connection.isClosed {
                    lent.insert(connection.id)
                    return connection
                }
            }
            if open < maxConnections {
                connecting += 1
                do {
                    let connection = try await connect()
                    connecting -= 1
                    lent.insert(connection.id)
                    return connection
                } catch {
                    connecting -= 1
                    wakeOne()
                    throw error
                }
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    private func give(_ connection: LiveConnection) {
        guard !closed, !connection.isClosed else { return discard(connection) }
        guard lent.remove(connection.id) != nil else { return }
        idle.append(connection)
        wakeOne()
    }

    /// Closes a lent connection and frees its place; a second call for it (the body's failure
    /// after its cancellation) does nothing.
    private func discard(_ connection: LiveConnection) {
        guard lent.remove(connection.id) != nil else { return }
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
