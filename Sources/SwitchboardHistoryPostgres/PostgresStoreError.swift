#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import PostgresNIO

/// A failure of the PostgreSQL history in words: what the server said (its message and
/// SQLSTATE), or why it could not be reached. postgres-nio's own description says nothing on
/// purpose and its debug description holds the query; neither is shown. No password is ever
/// in one: the server's messages do not repeat it, and neither do these.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }

    /// `error` in a line fit for `/readyz`, a log line or a start that fails; `server` names
    /// where it was trying to reach.
    public static func summary(_ error: any Error, server: String) -> String {
        if let error = error as? PostgresStoreError { return error.description }
        if error is LiveConnection.Closed { return "the connection to PostgreSQL at \(server) was closed" }
        if let error = error as? PSQLError {
            if let info = error.serverInfo, let message = info[.message] {
                let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return "PostgreSQL at \(server) said: \(message)\(state)"
            }
            switch error.code {
            case .connectionError:
                return "cannot reach PostgreSQL at \(server): \(error.underlying.map(Self.reason) ?? "connection failed")"
            case .serverClosedConnection, .uncleanShutdown:
                return "PostgreSQL at \(server) closed the connection"
            case .clientClosedConnection:
                return "the connection to PostgreSQL at \(server) was closed"
            case .authMechanismRequiresPassword:
                return "PostgreSQL at \(server) asks for a password and none was given (in the URL, PGPASSWORD or --db-password-file)"
            case .sslUnsupported:
                return "PostgreSQL at \(server) does not offer TLS, which sslmode asks for"
            case .queryCancelled:
                return "a query to PostgreSQL at \(server) was cancelled"
            default:
                return "PostgreSQL at \(server) failed: \(error.code)\(error.underlying.map { ": \(Self.reason($0))" } ?? "")"
            }
        }
        return "cannot reach PostgreSQL at \(server): \(reason(error))"
    }

    private static func reason(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return reason(first.error) }
            if let dns = error.dnsAAAAError ?? error.dnsAError { return "the host name cannot be resolved (\(dns))" }
            return "connection failed"
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return "no answer within the connect timeout" }
        return "\(error)"
    }
}
