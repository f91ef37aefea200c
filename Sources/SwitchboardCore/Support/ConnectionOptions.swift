#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Socket settings an operator can give a listener (for what it accepts and, in forward mode,
/// for the upstream half) or an outbound session.
public struct ConnectionOptions: Sendable, Equatable {
    /// TCP keepalive probes: after `idle` seconds of silence, every `interval` seconds, giving up
    /// after `count` unanswered ones. Nil parts keep the kernel's defaults.
    public struct Keepalive: Sendable, Equatable {
        public var idle: Int?
        public var interval: Int?
        public var count: Int?
        public init(idle: Int? = nil, interval: Int? = nil, count: Int? = nil) {
            self.idle = idle
            self.interval = interval
            self.count = count
        }
    }

    /// TCP_NODELAY; NIO's default (and ours) is on.
    public var nodelay: Bool?
    public var keepalive: Keepalive?
    /// A session with no bytes moving either way for this long is closed with reason `idle`.
    public var idleTimeout: Duration?
    /// For the upstream half of forwarded connections, and outbound sessions.
    public var connectTimeout: Duration?
    /// The listen(2) backlog of a listener.
    public var backlog: Int?

    public static let defaultBacklog = 256

    public init(nodelay: Bool? = nil, keepalive: Keepalive? = nil, idleTimeout: Duration? = nil, connectTimeout: Duration? = nil, backlog: Int? = nil) {
        self.nodelay = nodelay
        self.keepalive = keepalive
        self.idleTimeout = idleTimeout
        self.connectTimeout = connectTimeout
        self.backlog = backlog
    }

    public var isEmpty: Bool { self == ConnectionOptions() }

    /// The ranges the API enforces; the core checks them too, so a stored spec can't bypass them.
    public func validate() throws(SwitchboardError) {
        if let k = keepalive {
            if let idle = k.idle, !(1...32767).contains(idle) { throw SwitchboardError(.invalidArgument, "keepalive.idle_s must be from 1 to 32767") }
            if let interval = k.interval, !(1...32767).contains(interval) { throw SwitchboardError(.invalidArgument, "keepalive.interval_s must be from 1 to 32767") }
            if let count = k.count, !(1...127).contains(count) { throw SwitchboardError(.invalidArgument, "keepalive.count must be from 1 to 127") }
        }
        if let idle = idleTimeout, idle < .milliseconds(1) || idle > .seconds(7 * 86_400) {
            throw SwitchboardError(.invalidArgument, "idle_timeout_ms must be from 1 to 604800000")
        }
        if let connect = connectTimeout, connect < .milliseconds(1) || connect > .seconds(300) {
            throw SwitchboardError(.invalidArgument, "connect_timeout_ms must be from 1 to 300000")
        }
        if let backlog, !(1...65535).contains(backlog) { throw SwitchboardError(.invalidArgument, "backlog must be from 1 to 65535") }
    }

    /// Sets the TCP options on a connected channel, from its event loop. Unix sockets have none.
    func apply(to channel: any Channel) throws {
        // The default (nothing asked for) is the common case, on every accepted connection.
        guard nodelay != nil || keepalive != nil, let options = channel.syncOptions else { return }
        switch channel.localAddress?.protocol {
        case .inet?, .inet6?: break
        default: return
        }
        if let nodelay {
            try options.setOption(ChannelOptions.tcpOption(.tcp_nodelay), value: nodelay ? 1 : 0)
        }
        if let keepalive {
            try options.setOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
            let tcp = NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_TCP))
            if let idle = keepalive.idle {
                try options.setOption(ChannelOptions.Types.SocketOption(level: tcp, name: .init(rawValue: TCP_KEEPIDLE)), value: SocketOptionValue(idle))
            }
            if let interval = keepalive.interval {
                try options.setOption(ChannelOptions.Types.SocketOption(level: tcp, name: .init(rawValue: TCP_KEEPINTVL)), value: SocketOptionValue(interval))
            }
            if let count = keepalive.count {
                try options.setOption(ChannelOptions.Types.SocketOption(level: tcp, name: .init(rawValue: TCP_KEEPCNT)), value: SocketOptionValue(count))
            }
        }
    }

    /// Closes the session after `idleTimeout` without traffic, when one is set.
    func addIdleHandler(to channel: any Channel) throws {
        guard let idleTimeout else { return }
        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: TimeAmount(idleTimeout)), position: .first)
    }
}
