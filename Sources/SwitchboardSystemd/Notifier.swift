#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The `sd_notify` protocol without libsystemd: one datagram per message to `$NOTIFY_SOCKET`.
///
/// Absent that variable (not started by systemd with `Type=notify`) nothing is made and
/// nothing is sent.
public struct SystemdNotifier: Sendable {
    public let socketPath: String

    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty,
              path.hasPrefix("/") || path.hasPrefix("@"), path.utf8.count < 108 else { return nil }
        socketPath = path
    }

    /// The service is up: the API answers and saved listeners are back.
    @discardableResult public func ready(status: String) -> Bool { send("READY=1\nSTATUS=\(status)") }
    @discardableResult public func stopping(status: String) -> Bool { send("STOPPING=1\nSTATUS=\(status)") }
    @discardableResult public func status(_ status: String) -> Bool { send("STATUS=\(status)") }
    @discardableResult public func watchdog() -> Bool { send("WATCHDOG=1") }

    /// Sends one datagram; answers whether it went. Never blocks: the socket is non-blocking.
    @discardableResult
    public func send(_ message: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        // "@name" is Linux's abstract namespace: a leading NUL instead of the @.
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1))
        let sent = Array(message.utf8).withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent == message.utf8.count
    }
}
