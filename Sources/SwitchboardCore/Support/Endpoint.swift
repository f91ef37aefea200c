#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Where a listener binds or an outbound session connects: `HOST:PORT`, `[IPv6]:PORT` or `unix:/path`.
public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
    case host(String, port: Int)
    case unix(path: String)

    /// Parses the operator's spelling. Port 0 is allowed (the kernel picks one when binding).
    public init(parsing text: String) throws(EndpointError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard !path.isEmpty else { throw EndpointError("unix socket address needs a path, as in unix:/run/x.sock") }
            // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
            guard path.utf8.count <= 107 else { throw EndpointError("unix socket path is longer than 107 bytes") }
            guard !path.utf8.contains(0) else { throw EndpointError("unix socket path contains a NUL byte") }
            self = .unix(path: path)
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw EndpointError("'\(text)' has '[' without ']'") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw EndpointError("'\(text)' needs a port after ']', as in [::1]:9000") }
            portText = rest.dropFirst()
            guard host.contains(":") else { throw EndpointError("'\(host)' in brackets is not an IPv6 address") }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw EndpointError("'\(text)' is not HOST:PORT, [IPv6]:PORT or unix:/path")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { throw EndpointError("IPv6 addresses go in brackets, as in [::1]:9000") }
        }
        guard !host.isEmpty else { throw EndpointError("'\(text)' has no host") }
        guard host.utf8.count <= 253, host.allSatisfy(Self.isHostCharacter) else {
            throw EndpointError("'\(host)' is not a valid host name or address")
        }
        // No host name is all digits and dots: such a host is meant as IPv4, and one that is not
        // a dotted quad (300.1.1.1) would otherwise only fail later, at bind or connect.
        if host.allSatisfy({ $0.isASCIIDigit || $0 == "." }), !Self.isDottedQuad(host) {
            throw EndpointError("'\(host)' is not an IPv4 address (four numbers from 0 to 255, as in 127.0.0.1)")
        }
        guard !portText.isEmpty, portText.utf8.count <= 5, portText.allSatisfy(\.isASCIIDigit), let port = Int(portText), port <= 65535 else {
            throw EndpointError("port '\(portText)' is not a number from 0 to 65535")
        }
        self = .host(String(host), port: port)
    }

    private static func isDottedQuad(_ host: Substring) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            (1...3).contains(part.count) && Int(part).map { $0 <= 255 } == true
        }
    }

    private static func isHostCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-" || c == ":" || c == "_" || c == "%")
    }

    public var description: String {
        switch self {
        // On the bytes: `contains(":")` on a String is Foundation's substring search, a tenth of
        // the CPU of GET /v1/listeners when this was profiled.
        case .host(let host, let port): host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }

    /// The spelling of a socket address the kernel reported, in the same form the operator uses.
    public static func describe(_ address: SocketAddress?) -> String? {
        guard let address else { return nil }
        switch address {
        case .v4(let v4):
            return describe(v4.address)
        case .v6:
            return "[\(address.ipAddress ?? "?")]:\(address.port ?? 0)"
        case .unixDomainSocket:
            return "unix:\(address.pathname ?? "")"
        }
    }
}

extension Endpoint {
    /// `a.b.c.d:port` written straight from the socket address: every session describes two,
    /// and NIO's `ipAddress` with an interpolation took three allocations for each (an array for
    /// `inet_ntop`, its string, the joined one), where an address of up to 15 characters, as
    /// `127.0.0.1:40000`, fits in a `String` with none.
    static func describe(_ address: sockaddr_in) -> String {
        let ip = UInt32(bigEndian: address.sin_addr.s_addr)
        let port = UInt16(bigEndian: address.sin_port)
        // "255.255.255.255:65535" is 21 bytes.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 21) { text in
            var count = 0
            func put(_ value: UInt32) {
                if value >= 10 { put(value / 10) }
                text[count] = UInt8(ascii: "0") + UInt8(value % 10)
                count += 1
            }
            for shift in stride(from: UInt32(24), through: 0, by: -8) {
                put((ip >> shift) & 0xFF)
                text[count] = shift == 0 ? UInt8(ascii: ":") : UInt8(ascii: ".")
                count += 1
            }
            put(UInt32(port))
            return String(decoding: UnsafeBufferPointer(rebasing: text[..<count]), as: UTF8.self)
        }
    }
}

public struct EndpointError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension Character {
    var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
