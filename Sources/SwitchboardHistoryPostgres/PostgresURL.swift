import Foundation

/// `--db postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...&host=/socket/dir]`, as
/// libpq reads it (`postgresql://` too). Its `description` never holds the password: it is what
/// logs, `/v1/info` and error messages show.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, CaseIterable {
        /// No TLS: a server on this machine or a private network.
        case disable
        /// TLS, the server's certificate not checked (libpq's `require`).
        case require
        /// TLS, the certificate checked against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    public var user: String
    /// From the URL itself; `PGPASSWORD` or `--db-password-file` otherwise.
    public var password: String?
    public var host: String
    public var port: Int
    /// A unix socket's folder (`?host=/run/postgresql`), instead of TCP to `host`.
    public var socketFolder: String?
    public var database: String
    public var tls: TLSMode

    /// The error names what is wrong and never repeats the password.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Whether `text` is meant as a PostgreSQL URL at all (else it is a SQLite file's path).
    public static func isURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    public init(parsing text: String) throws(Invalid) {
        guard Self.isURL(text) else { throw Invalid(description: "a PostgreSQL URL starts with postgres:// or postgresql://") }
        let rest = String(text[text.range(of: "://")!.upperBound...])
        // Split by hand: a password may hold characters URLComponents refuses or rewrites.
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        var query = ""
        if let mark = path.firstIndex(of: "?") {
            query = String(path[path.index(after: mark)...])
            path = String(path[..<mark])
        }
        guard let at = authority.lastIndex(of: "@") else {
            throw Invalid(description: "the PostgreSQL URL names no user: write postgres://USER@HOST:PORT/DATABASE")
        }
        let credentials = authority[..<at]
        let hostPort = String(authority[authority.index(after: at)...])
        let userText: Substring
        if let colon = credentials.firstIndex(of: ":") {
            userText = credentials[..<colon]
            guard let password = String(credentials[credentials.index(after: colon)...]).removingPercentEncoding else {
                throw Invalid(description: "the password in the PostgreSQL URL is not valid percent-encoding")
            }
            self.password = password
        } else {
            userText = credentials
            password = nil
        }
        guard let user = String(userText).removingPercentEncoding, !user.isEmpty else {
            throw Invalid(description: "the PostgreSQL URL names no user: write postgres://USER@HOST:PORT/DATABASE")
        }
        self.user = user
        (host, port) = try Self.hostAndPort(hostPort)
        guard let database = String(path.dropFirst()).removingPercentEncoding, !database.isEmpty, !database.contains("/") else {
            throw Invalid(description: "the PostgreSQL URL names no database: write postgres://USER@HOST:PORT/DATABASE")
        }
        self.database = database
        tls = .disable
        socketFolder = nil
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            let key = parts[0], value = parts.count > 1 ? parts[1] : ""
            switch key {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw Invalid(description: "sslmode '\(value)' is not one switchboard knows: \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            case "host":
                guard value.hasPrefix("/") else { throw Invalid(description: "host= in the PostgreSQL URL is a unix socket's folder, an absolute path") }
                socketFolder = value
            case "password":
                throw Invalid(description: "give the password in the URL's user part, PGPASSWORD or --db-password-file, not as password=")
            default:
                throw Invalid(description: "the PostgreSQL URL's parameter '\(key)' is not one switchboard knows (sslmode, host)")
            }
        }
    }

    private static func hostAndPort(_ text: String) throws(Invalid) -> (String, Int) {
        var host = text
        var portText: String?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw Invalid(description: "the PostgreSQL URL's host '\(text)' has an unclosed '['") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") { portText = String(after.dropFirst()) } else if !after.isEmpty {
                throw Invalid(description: "the PostgreSQL URL's host '\(text)' is not [IPv6]:PORT")
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        host = host.removingPercentEncoding ?? host
        if host.isEmpty { host = "localhost" }
        guard let portText else { return (host, 5432) }
        guard let port = Int(portText), (1...65_535).contains(port) else {
            throw Invalid(description: "the PostgreSQL URL's port '\(portText)' is not a number from 1 to 65535")
        }
        return (host, port)
    }

    /// The URL as it may be shown: the password, wherever it came from, is never in it.
    public var description: String {
        var text = "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        var query: [String] = []
        if tls != .disable { query.append("sslmode=\(tls.rawValue)") }
        if let socketFolder { query.append("host=\(socketFolder)") }
        if !query.isEmpty { text += "?" + query.joined(separator: "&") }
        return text
    }

    /// Where the server is, for messages: the socket or HOST:PORT.
    public var server: String {
        if let socketFolder { return "\(socketFolder)/.s.PGSQL.\(port)" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
