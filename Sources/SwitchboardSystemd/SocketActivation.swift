import Foundation

/// Sockets handed over by systemd (`$LISTEN_FDS`, `$LISTEN_FDNAMES`), starting at fd 3.
public struct SocketActivation: Sendable {
    public struct Socket: Sendable, Equatable {
        public let fd: Int32
        public let name: String
    }
    public let sockets: [Socket]

    /// nil when the sockets are not meant for this process (no `$LISTEN_FDS`, or `$LISTEN_PID`
    /// naming another).
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment, pid: Int32 = getpid()) {
        guard let countText = environment["LISTEN_FDS"], let count = Int(countText), count > 0, count < 1024 else { return nil }
        if let listenPID = environment["LISTEN_PID"], listenPID != String(pid) { return nil }
        let names = environment["LISTEN_FDNAMES"]?.split(separator: ":", omittingEmptySubsequences: false).map(String.init) ?? []
        sockets = (0..<count).map { index in
            Socket(fd: Int32(3 + index), name: index < names.count ? names[index] : "unknown")
        }
    }

    /// The socket for the API: the one named `api`, or the only one.
    public var api: Socket? {
        sockets.first { $0.name == "api" } ?? (sockets.count == 1 ? sockets[0] : nil)
    }
}
