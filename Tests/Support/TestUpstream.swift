import NIOCore
import NIOPosix
import Synchronization

/// A server for forwarding tests to forward to, run in the test process.
public final class TestUpstream: Sendable {
    public enum Behaviour: Sendable {
        /// Reads until the client's FIN, then answers "got N bytes: <data>" and closes:
        /// the other direction of a half-closed connection still has to flow.
        case answerAfterEOF
        /// Writes `bytes` bytes as fast as the connection takes them, then closes.
        case send(bytes: Int)
        /// Reads the request until the client's FIN, then answers with `bytes` bytes and closes.
        case answerAfterEOFWith(bytes: Int)
        case echo
    }

    public let channel: any Channel
    public let port: Int
    private let stats: Stats

    public var accepted: Int { stats.state.withLock { $0.accepted } }
    public var bytesSent: Int { stats.state.withLock { $0.sent } }
    public var bytesReceived: Int { stats.state.withLock { $0.received } }

    public static func start(_ behaviour: Behaviour) async throws -> TestUpstream {
        let stats = Stats()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                stats.state.withLock { $0.accepted += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(behaviour: behaviour, stats: stats))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestUpstream(channel: channel, port: channel.localAddress!.port!, stats: stats)
    }

    private init(channel: any Channel, port: Int, stats: Stats) {
        self.channel = channel
        self.port = port
        self.stats = stats
    }

    public func stop() async {
        try? await channel.close().get()
    }
}

final class Stats: Sendable {
    struct State {
        var accepted = 0
        var sent = 0
        var received = 0
    }
    let state = Mutex(State())
}

final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let behaviour: TestUpstream.Behaviour
    let stats: Stats
    private var received = ByteBuffer()
    private var remaining = 0
    private let chunk = ByteBuffer(repeating: UInt8(ascii: "z"), count: 64 * 1024)

    init(behaviour: TestUpstream.Behaviour, stats: Stats) {
        self.behaviour = behaviour
        self.stats = stats
    }

    func channelActive(context: ChannelHandlerContext) {
        if case .send(let bytes) = behaviour {
            remaining = bytes
            pump(context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        stats.state.withLock { $0.received += buffer.readableBytes }
        switch behaviour {
        case .answerAfterEOF: received.writeBuffer(&buffer)
        case .echo: context.writeAndFlush(NIOAny(buffer), promise: nil)
        case .send, .answerAfterEOFWith: break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            switch behaviour {
            case .answerAfterEOF:
                let answer = ByteBuffer(string: "got \(received.readableBytes) bytes: " + String(buffer: received))
                context.writeAndFlush(NIOAny(answer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            case .echo:
                context.close(promise: nil)
            case .send:
                // Its answer goes on after the client's FIN; it closes once all is written.
                break
            case .answerAfterEOFWith(let bytes):
                remaining = bytes
                pump(context: context)
            }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump(context: context) }
    }

    /// Writes while the channel is writable; the rest waits for writability to come back.
    private func pump(context: ChannelHandlerContext) {
        while remaining > 0 && context.channel.isWritable {
            let slice = chunk.getSlice(at: 0, length: min(remaining, chunk.readableBytes))!
            remaining -= slice.readableBytes
            stats.state.withLock { $0.sent += slice.readableBytes }
            context.write(NIOAny(slice), promise: nil)
            if remaining == 0 {
                context.writeAndFlush(NIOAny(ByteBuffer())).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
        }
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
