import NIOCore
import Synchronization

/// Keeps forward listeners from feeding on themselves.
///
/// A listener that forwards to its own address makes every connection connect to itself again:
/// one client took 18,974 session slots in 2 s. That case is refused when the listener is
/// created. A loop through several listeners (A forwards to B, B to A) cannot be seen from
/// their specs alone (names resolve late, ports are picked by the kernel), so it is caught as
/// it happens: each upstream connection a forward listener opens is remembered by its local
/// address, and a connection accepted from such an address is one of our own hops. Past
/// `maxHops` hops in a row it is refused, and the chain unwinds as each half closes its partner.
///
/// The upstream is remembered right after its connect() call, by `Marker`, before the connect
/// completes: on loopback the handshake is done inside that call, and the listener at the other
/// end may accept on another event loop at once, so waiting for the completion missed ~half of
/// the hops. The accept side asks twice, at the accept and once its own upstream connected.
final class ForwardLoopGuard: Sendable {
    /// Forward hops through this service one client connection may make; a chain of
    /// forward listeners longer than this is taken for a loop.
    static let maxHops = 8

    /// Upstream connections of forward listeners, by their local address: the hop count of
    /// the connection each carries.
    private let upstreams = Mutex<[String: Int]>([:])
    /// Whether any upstream is remembered: the accept path asks this without the lock.
    private let count = Atomic<Int>(0)

    /// How many of our own forward hops came before a connection accepted from `remote`: 0 for
    /// any other client.
    func hops(from accepted: any Channel) -> Int {
        guard count.load(ordering: .relaxed) > 0 else { return 0 }
        return hops(from: Endpoint.describe(accepted.remoteAddress))
    }

    /// The same, asked again once the accepted connection's own upstream is connected: the
    /// hop before it is remembered when its connect completes, on another event loop, which can
    /// come just after the accept here; it cannot come after this connect's round trip as well.
    func hops(from remote: String?) -> Int {
        guard count.load(ordering: .relaxed) > 0, let remote, Self.isKey(remote) else { return 0 }
        return upstreams.withLock { $0[remote] } ?? 0
    }

    func opened(upstreamFrom local: String?, hops: Int) {
        guard let local, Self.isKey(local) else { return }
        let added = upstreams.withLock { $0.updateValue(max(hops, $0[local] ?? 0), forKey: local) == nil }
        if added { count.add(1, ordering: .relaxed) }
    }

    func closed(upstreamFrom local: String?) {
        guard let local, Self.isKey(local) else { return }
        if upstreams.withLock({ $0.removeValue(forKey: local) }) != nil {
            count.subtract(1, ordering: .relaxed)
        }
    }

    /// Only TCP addresses tell connections apart: a unix client socket has no name, so every
    /// one is `unix:` and would share one entry (ordinary unix forwarding refused as a loop).
    private static func isKey(_ address: String) -> Bool {
        !address.hasPrefix("unix:")
    }

    /// On a forward listener's upstream channel: remembers it by its local address as soon as
    /// its connect() was made, and forgets it when the channel is gone.
    final class Marker: ChannelOutboundHandler, RemovableChannelHandler {
        typealias OutboundIn = Any
        private let loops: ForwardLoopGuard
        private let hops: Int
        private var local: String?

        init(_ loops: ForwardLoopGuard, hops: Int) {
            self.loops = loops
            self.hops = hops
        }

        func connect(context: ChannelHandlerContext, to address: SocketAddress, promise: EventLoopPromise<Void>?) {
            context.connect(to: address, promise: promise)
            // The connect() syscall has run by now (NIO makes it synchronously on this loop), so
            // the kernel has given the socket its local address; NIO caches it only once the
            // connect completes, so it is asked for directly.
            guard let bound = try? context.channel._channelCore.localAddress0() else { return }
            local = Endpoint.describe(bound)
            loops.opened(upstreamFrom: local, hops: hops)
        }

        /// Leaves the pipeline once the connection is made (an idle pair pays nothing for it);
        /// the relay's close forgets the address from then on.
        func handOver(_ context: ChannelHandlerContext) {
            local = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            loops.closed(upstreamFrom: local)
            local = nil
        }
    }

    /// Whether `upstream` names the very socket `bound` listens on: same path, or the same
    /// port on the same address, a loopback name or address, or a wildcard-bound listener.
    /// Host names other than `localhost` are not resolved here (that would block); a loop
    /// through one is caught by the hop count.
    static func isOwnAddress(_ upstream: Endpoint, bound: SocketAddress?) -> Bool {
        guard let bound else { return false }
        switch (upstream, bound) {
        case (.unix(let path), .unixDomainSocket):
            return bound.pathname == path
        case (.host(let host, let port), .v4), (.host(let host, let port), .v6):
            guard port == bound.port, let boundIP = bound.ipAddress else { return false }
            let wildcard = boundIP == "0.0.0.0" || boundIP == "::"
            if host == "localhost" { return wildcard || Self.isLoopback(boundIP) }
            guard let target = try? SocketAddress(ipAddress: host, port: port), let targetIP = target.ipAddress else { return false }
            if targetIP == boundIP { return true }
            // A wildcard listener is also reached through loopback and the "any" address itself.
            return wildcard && (Self.isLoopback(targetIP) || targetIP == "0.0.0.0" || targetIP == "::")
        default:
            return false
        }
    }

    private static func isLoopback(_ ip: String) -> Bool {
        ip.hasPrefix("127.") || ip == "::1"
    }
}
