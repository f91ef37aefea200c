import Logging
import NIOCore
import PostgresNIO

/// A PostgreSQL connection that sends nothing once it is closed. postgres-nio 1.33 hands a
/// statement for a closed connection to a pipeline that drops it: the caller then waits forever
/// (a debug build traps on the promise it lost). Every statement of the history's goes through
/// here, so a server that went away is an error at once instead.
struct LiveConnection: Sendable {
    /// What a statement meets on a connection the server or the network closed.
    struct Closed: Error, CustomStringConvertible {
        var description: String { "the connection was closed" }
    }

    private let connection: PostgresConnection

    init(_ connection: PostgresConnection) { self.connection = connection }

    var id: PostgresConnection.ID { connection.id }
    var isClosed: Bool { connection.isClosed }

    @discardableResult
    func query(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !connection.isClosed else { throw Closed() }
        return try await connection.query(query, logger: logger)
    }

    func close() -> EventLoopFuture<Void> { connection.close() }
    func close() async throws { try await connection.close() }
}
