#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore

/// Which addresses the service may connect to (`--allow-connect`, `--deny-connect`): every
/// outbound session, every attempt of a reconnecting one, and every upstream of a forward
/// listener is checked against it.
///
/// - A deny rule that matches refuses the target, whatever the allow rules say.
/// - If there is any allow rule, a target must match one of them.
/// - With no rules at all everything is allowed.
///
/// Host names are resolved first and each resolved address is checked; the connection is then
/// made to a checked address, never to the name again. IPv4 rules match IPv4 addresses (and
/// IPv4-mapped IPv6 ones, `::ffff:a.b.c.d`), IPv6 rules match IPv6 addresses.
public struct OutboundPolicy: Sendable, Equatable {
    public var allow: [ConnectRule]
    public var deny: [ConnectRule]

    public init(allow: [ConnectRule] = [], deny: [ConnectRule] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// No rules: every target is allowed.
    public static let allowAll = OutboundPolicy()

    public var isUnrestricted: Bool { allow.isEmpty && deny.isEmpty }

    /// Why a target was refused, in words that name the rule.
    public struct Refusal: Sendable, Equatable, CustomStringConvertible {
        /// The deny rule that matched; nil when no allow rule matched.
        public let rule: ConnectRule?
        public let description: String
    }

    /// nil when `address` may be connected to. `target` is how the refusal names what was
    /// asked for (a host name and the address it resolved to, say).
    public func refusal(for address: SocketAddress, target: String? = nil) -> Refusal? {
        guard let key = Target(address) else { return nil }
        return refusal(key, port: address.port, name: target ?? Endpoint.describe(address) ?? "\(address)")
    }

    /// For a unix-socket target; `path` as the connect will use it (see `UnixPath`).
    public func refusal(forUnixPath path: String, target: String? = nil) -> Refusal? {
        refusal(.unix(path), port: nil, name: target ?? "unix:\(path)")
    }

    private func refusal(_ target: Target, port: Int?, name: String) -> Refusal? {
        if let rule = deny.first(where: { $0.matches(target, port: port) }) {
            return Refusal(rule: rule, description: "\(name) is denied by --deny-connect \(rule)")
        }
        if !allow.isEmpty, !allow.contains(where: { $0.matches(target, port: port) }) {
            return Refusal(rule: nil, description: "\(name) is not allowed by any --allow-connect rule")
        }
        return nil
    }

    /// Parses rules given as a list in the environment: separated by spaces or commas, where a
    /// comma followed by a port (`10.0.0.0/8:502,503`) continues the rule's port list.
    public static func parseList(_ text: String) throws(ConnectRuleError) -> [ConnectRule] {
        var rules: [String] = []
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            for piece in word.split(separator: ",") {
                if piece.allSatisfy({ $0.isASCIIDigit || $0 == "-" }), let last = rules.last, Self.hasPorts(last) {
                    rules[rules.count - 1] = last + "," + piece
                } else {
                    rules.append(String(piece))
                }
            }
        }
        var parsed: [ConnectRule] = []
        for rule in rules { parsed.append(try ConnectRule(parsing: rule)) }
        return parsed
    }

    private static func hasPorts(_ rule: String) -> Bool {
        if rule.hasPrefix("unix:") { return false }
        if rule.hasPrefix("[") {
            guard let close = rule.firstIndex(of: "]") else { return false }
            return rule[close...].contains(":")
        }
        return rule.filter { $0 == ":" }.count == 1
    }
}

/// What a rule is matched against.
enum Target {
    case v4(UInt32)
    case v6(UInt64, UInt64)
    case unix(String)

    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            self = .v4(UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            var raw = v6.address.sin6_addr
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            let (high, low) = Self.words(bytes)
            // ::ffff:a.b.c.d is an IPv4 address on an IPv6 socket: the IPv4 rules decide.
            if high == 0, low >> 32 == 0xffff {
                self = .v4(UInt32(truncatingIfNeeded: low))
            } else {
                self = .v6(high, low)
            }
        case .unixDomainSocket:
            guard let path = address.pathname else { return nil }
            self = .unix(path)
        }
    }

    static func words(_ bytes: [UInt8]) -> (UInt64, UInt64) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<8 { high = high << 8 | UInt64(bytes[i]) }
        for i in 8..<16 { low = low << 8 | UInt64(bytes[i]) }
        return (high, low)
    }
}

/// One `--allow-connect` or `--deny-connect` rule: `CIDR[:PORTS]` or `unix:/path-prefix`.
///
/// `CIDR` is `a.b.c.d[/len]` or an IPv6 address with its length, in brackets when ports
/// follow (`[::1]/128:1-1024`); without a length it is one address. `PORTS` is `N`, `N-M` or
/// a comma list of those; without it every port matches. `unix:/run/app` matches that path and
/// everything under it (whole path components; the path is made absolute and `.`, `..` and
/// symbolic links are resolved before it is checked).
public struct ConnectRule: Sendable, Equatable, CustomStringConvertible {
    enum Network: Equatable {
        case v4(UInt32, prefix: Int)
        case v6(UInt64, UInt64, prefix: Int)
        case unix(String)
    }
    let network: Network
    /// nil: every port.
    let ports: [ClosedRange<Int>]?
    /// The rule as the operator wrote it.
    public let description: String

    public init(parsing text: String) throws(ConnectRuleError) {
        description = text
        func fail(_ why: String) -> ConnectRuleError { ConnectRuleError("'\(text)': \(why)") }
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard path.hasPrefix("/") else { throw fail("a unix rule needs an absolute path, as in unix:/run/app") }
            network = .unix(UnixPath.normalize(path))
            ports = nil
            return
        }
        var cidr: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw fail("'[' without ']'") }
            var rest = text[text.index(after: close)...]
            cidr = text[text.index(after: text.startIndex)..<close]
            if rest.hasPrefix("/") {
                let end = rest.firstIndex(of: ":") ?? rest.endIndex
                cidr = Substring(String(cidr) + rest[..<end])
                rest = rest[end...]
            }
            if rest.hasPrefix(":") {
                portText = rest.dropFirst()
            } else if !rest.isEmpty {
                throw fail("expected ':PORTS' after ']'")
            }
        } else if text.filter({ $0 == ":" }).count > 1 {
            // A bare IPv6 network; ports need the brackets.
            cidr = Substring(text)
        } else if let colon = text.firstIndex(of: ":") {
            cidr = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            cidr = Substring(text)
        }
        let addressText: Substring
        var prefix: Int?
        if let slash = cidr.firstIndex(of: "/") {
            addressText = cidr[..<slash]
            let lengthText = cidr[cidr.index(after: slash)...]
            guard !lengthText.isEmpty, lengthText.count <= 3, lengthText.allSatisfy(\.isASCIIDigit), let length = Int(lengthText) else {
                throw fail("prefix length '\(lengthText)' is not a number")
            }
            prefix = length
        } else {
            addressText = cidr
        }
        if addressText.contains(":") {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, String(addressText), &raw) == 1 else { throw fail("'\(addressText)' is not an IPv6 address") }
            let length = prefix ?? 128
            guard length <= 128 else { throw fail("an IPv6 prefix length is at most 128") }
            let (high, low) = Target.words(withUnsafeBytes(of: &raw) { Array($0) })
            let (maskHigh, maskLow) = Self.mask128(length)
            guard high & ~maskHigh == 0, low & ~maskLow == 0 else {
                throw fail("address bits are set past the /\(length) prefix")
            }
            network = .v6(high, low, prefix: length)
        } else {
            var raw = in_addr()
            // inet_pton takes only the four-part dotted form, no shorthand.
            guard addressText.contains("."), inet_pton(AF_INET, String(addressText), &raw) == 1 else {
                throw fail("'\(addressText)' is not an IPv4 address")
            }
            let length = prefix ?? 32
            guard length <= 32 else { throw fail("an IPv4 prefix length is at most 32") }
            let address = UInt32(bigEndian: raw.s_addr)
            guard address & ~Self.mask32(length) == 0 else {
                throw fail("address bits are set past the /\(length) prefix (did you mean \(Self.dotted(address & Self.mask32(length)))/\(length)?)")
            }
            network = .v4(address, prefix: length)
        }
        if let portText {
            guard !portText.isEmpty else { throw fail("no ports after ':'") }
            var ranges: [ClosedRange<Int>] = []
            for part in portText.split(separator: ",", omittingEmptySubsequences: false) {
                let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
                guard (1...2).contains(bounds.count) else { throw fail("'\(part)' is not a port or a range N-M") }
                var numbers: [Int] = []
                for bound in bounds {
                    guard !bound.isEmpty, bound.count <= 5, bound.allSatisfy(\.isASCIIDigit), let port = Int(bound), port <= 65535 else {
                        throw fail("'\(bound)' is not a port from 0 to 65535")
                    }
                    numbers.append(port)
                }
                guard numbers[0] <= numbers[numbers.count - 1] else { throw fail("range '\(part)' ends before it starts") }
                ranges.append(numbers[0]...numbers[numbers.count - 1])
            }
            ports = ranges
        } else {
            ports = nil
        }
    }

    func matches(_ target: Target, port: Int?) -> Bool {
        guard matchesNetwork(target) else { return false }
        guard let ports else { return true }
        guard let port else { return false }
        return ports.contains { $0.contains(port) }
    }

    private func matchesNetwork(_ target: Target) -> Bool {
        switch (network, target) {
        case (.v4(let net, let prefix), .v4(let address)):
            return address & Self.mask32(prefix) == net
        case (.v6(let high, let low, let prefix), .v6(let addressHigh, let addressLow)):
            let (maskHigh, maskLow) = Self.mask128(prefix)
            return addressHigh & maskHigh == high && addressLow & maskLow == low
        case (.unix(let prefix), .unix(let path)):
            return prefix == "/" || path == prefix || path.hasPrefix(prefix + "/")
        default:
            return false
        }
    }

    static func mask32(_ prefix: Int) -> UInt32 {
        prefix == 0 ? 0 : UInt32.max << (32 - prefix)
    }

    static func mask128(_ prefix: Int) -> (UInt64, UInt64) {
        if prefix <= 64 { return (prefix == 0 ? 0 : UInt64.max << (64 - prefix), 0) }
        return (UInt64.max, prefix == 128 ? UInt64.max : UInt64.max << (128 - prefix))
    }

    static func dotted(_ address: UInt32) -> String {
        "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff)"
    }
}

public struct ConnectRuleError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Unix-socket paths as the policy sees them.
enum UnixPath {
    /// Absolute, without `.`, `..` or repeated slashes; symbolic links resolved when the path
    /// exists. This is the path that is checked and then connected to.
    static func canonical(_ path: String) -> String {
        var absolute = path
        if !absolute.hasPrefix("/") {
            absolute = FileManager.default.currentDirectoryPath + "/" + absolute
        }
        if let resolved = realpath(absolute, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        // The socket itself may not exist (the connect will say so); resolve its folder.
        let normalized = normalize(absolute)
        if let slash = normalized.lastIndex(of: "/"), slash != normalized.startIndex,
           let folder = realpath(String(normalized[..<slash]), nil) {
            defer { free(folder) }
            return String(cString: folder) + normalized[slash...]
        }
        return normalized
    }

    /// `.`, `..` and repeated slashes removed, lexically.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
