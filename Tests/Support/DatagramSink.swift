#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A unix datagram socket the test owns, standing in for systemd's notify socket.
public final class DatagramSink: Sendable {
    public let path: String
    private let fd: Int32
    private let received = Mutex<[String]>([])
    private let stop = Mutex(false)

    /// Binds `path` (a file path, or "@name" for the abstract namespace).
    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw TimedOut("cannot bind \(path): errno \(errno)") }
        // A receive timeout lets the reader thread notice close().
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !stop.withLock({ $0 }) {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 { received.withLock { $0.append(String(decoding: buffer[0..<count], as: UTF8.self)) } }
            }
        }
    }

    public var messages: [String] { received.withLock { $0 } }

    deinit { Glibc.close(fd) }

    public func close() {
        stop.withLock { $0 = true }
        // The reader wakes within its receive timeout; the descriptor closes when it is done.
        shutdown(fd, Int32(SHUT_RDWR))
        if !path.hasPrefix("@") { unlink(path) }
    }
}
