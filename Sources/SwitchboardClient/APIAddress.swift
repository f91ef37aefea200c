import AsyncHTTPClient
import Foundation
/// Where the control API is: what `--api` and `SWITCHBOARD_API` name, in the words
/// `switchboard serve --api` takes (`HOST:PORT`, `[IPv6]:PORT`, `unix:/path`), so one value
/// serves both sides.
public enum APIAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Where `switchboard serve` listens when nothing says otherwise.
    public static let standard = APIAddress.tcp(host: "127.0.0.1", port: 7700)

    /// Also takes `http://HOST:PORT`, as copied from a curl line; there is no TLS to speak.
    public init(parsing text: String) throws(APIAddressError) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest.hasPrefix("unix:") {
            let path = rest.dropFirst("unix:".count)
            guard !path.isEmpty else { throw APIAddressError("'\(text)' names no socket path (unix:/path/to/api.sock)") }
            self = .unix(path: String(path))
            return
        }
        if rest.hasPrefix("https://") { throw APIAddressError("'\(text)': the API speaks plain HTTP, not https") }
        if rest.hasPrefix("http://") { rest = rest.dropFirst("http://".count) }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else {
                throw APIAddressError("'\(text)' is not [IPv6]:PORT")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[rest.index(close, offsetBy: 2)...]
        } else {
            guard let colon = rest.lastIndex(of: ":") else {
                throw APIAddressError("'\(text)' has no port: HOST:PORT, [IPv6]:PORT or unix:/path")
            }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == "/" || $0 == "@" || $0.isWhitespace }) else {
            throw APIAddressError("'\(text)' has no host: HOST:PORT, [IPv6]:PORT or unix:/path")
        }
        guard let port = Int(portText), (1...65_535).contains(port) else {
            throw APIAddressError("'\(text)': the port must be from 1 to 65535")
        }
        self = .tcp(host: String(host), port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }

    /// The URL async-http-client is given: `http+unix://` carries the socket path, percent-
    /// encoded, as its host.
    func url(_ pathAndQuery: String) -> String {
        switch self {
        case .tcp: "http://\(description)\(pathAndQuery)"
        case .unix(let path): URL(httpURLWithSocketPath: path, uri: pathAndQuery)?.absoluteString ?? "http+unix://\(path)\(pathAndQuery)"
        }
    }
}

public struct APIAddressError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
