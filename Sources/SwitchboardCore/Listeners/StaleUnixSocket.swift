#if canImport(Glibc)
import Glibc
#endif

/// A unix socket file left behind by a process that died without unlinking it (SIGKILL, a
/// crash): binding its path fails with "address in use" though nothing listens, so a listener
/// could never come back after a crash.
enum StaleUnixSocket {
    /// Removes the file at `path` if it is a socket and connecting to it is refused (nobody
    /// listens); answers whether it did. Never touches a file that is not a socket, nor a socket
    /// that answers.
    static func remove(at path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // Refused: a socket file nobody listens on. Anything else (connected, a full backlog
        // answering EAGAIN, no permission) means it may be in use or is not ours to judge.
        guard connected != 0, errno == ECONNREFUSED else { return false }
        return unlink(path) == 0
    }
}
