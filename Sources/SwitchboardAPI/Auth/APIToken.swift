#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The bearer token the API asks for (`serve --token-file`). It can be replaced while the
/// service runs (the file is re-read on SIGHUP); requests compare against whichever is current.
///
/// The token is never logged and never part of an error: errors about the file name the file.
public final class APIToken: Sendable {
    private let current: Mutex<[UInt8]>

    public init(_ token: [UInt8]) {
        current = Mutex(token)
    }

    /// Reads the token from `path`; see `read(file:)`.
    public convenience init(file path: String) throws(TokenFileError) {
        self.init(try Self.read(file: path))
    }

    /// Re-reads the file; on any error the current token stays.
    public func reload(from path: String) throws(TokenFileError) {
        let token = try Self.read(file: path)
        current.withLock { $0 = token }
    }

    /// Whether an `Authorization` header value carries the current token: `Bearer TOKEN`, the
    /// scheme in any case.
    func accepts(authorization: String) -> Bool {
        let value = authorization.utf8
        let scheme = "bearer ".utf8
        guard value.count > scheme.count,
              zip(value.prefix(scheme.count), scheme).allSatisfy({ Self.lowercased($0) == $1 }) else { return false }
        let presented = value.dropFirst(scheme.count).drop { $0 == UInt8(ascii: " ") }
        return current.withLock { Self.constantTimeEquals(presented, $0) }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    /// Compares without an early exit: every byte of `expected` is looked at whatever
    /// `presented` holds, so the time taken depends on the length of `expected` only, never
    /// on where the first difference is. A length difference makes the answer false without
    /// a shortcut.
    @inline(never)
    public static func constantTimeEquals(_ presented: some Collection<UInt8>, _ expected: [UInt8]) -> Bool {
        let presented = Array(presented)
        var difference = UInt(bitPattern: presented.count ^ expected.count)
        for index in expected.indices {
            let byte = index < presented.count ? presented[index] : 0
            difference |= UInt(byte ^ expected[index])
        }
        return difference == 0
    }

    /// The token in the file at `path`: one word of printable ASCII (RFC 6750's token68 and
    /// more), whitespace and newlines around it ignored.
    public static func read(file path: String) throws(TokenFileError) -> [UInt8] {
        let limit = 4096
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TokenFileError("cannot read the token file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw TokenFileError("cannot read the token file \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[..<count]
            guard bytes.count <= limit else { throw TokenFileError("the token file \(path) is larger than \(limit) bytes; it must hold one token") }
        }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d }
        let token = Array(bytes.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        guard !token.isEmpty else { throw TokenFileError("the token file \(path) is empty") }
        guard token.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw TokenFileError("the token file \(path) must hold one token of printable ASCII characters, without spaces")
        }
        return token
    }
}

public struct TokenFileError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
