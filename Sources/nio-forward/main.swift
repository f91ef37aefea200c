// nio-forward: a reference peer of bench/run's forward-churn scenario.
//
// The smallest SwiftNIO TCP forwarder that does the socket work of switchboard's forward
// listener: accept, connect the upstream on the accepting event loop, relay both ways, pass a
// FIN on once what is queued is written, close each side when the other is gone. Nothing else:
// no sessions, no history, no backpressure, no faults. Against switchboard it shows what SwiftNIO
// itself costs a forwarded connection; switchboard's figure less this one is what the service
// adds.
//
// usage: nio-forward -u PORT [-p PORT] [-t LOOPS]   forwards to 127.0.0.1:PORT (the upstream);
// prints "port N" once listening.
import Glibc
import NIOCore
import NIOPosix

/// One half of a pair: what its channel reads is written to the partner's channel. What comes
/// before the upstream is connected (bytes, a FIN) waits here.
final class Glue: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: Glue?
    private var context: ChannelHandlerContext?
    private var early: [ByteBuffer] = []
    private var earlyFIN = false

    static func join(_ a: Glue, _ b: Glue) {
        a.partner = b
        b.partner = a
        a.releaseEarly()
        b.releaseEarly()
    }

    private func releaseEarly() {
        guard let partner else { return }
        for buffer in early { partner.write(buffer) }
        early = []
        partner.context?.flush()
        if earlyFIN { partner.closeAfterWrites(mode: .output) }
    }

    private func write(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// NIO drops queued writes when an output close meets a shut input, so the close waits for
    /// an empty write's completion, as switchboard's relay does.
    private func closeAfterWrites(mode: CloseMode) {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { [self] _ in
            self.context?.close(mode: mode, promise: nil)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let partner {
            partner.write(buffer)
        } else {
            early.append(buffer)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            if let partner { partner.closeAfterWrites(mode: .output) } else { earlyFIN = true }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let partner, partner.context?.channel.isActive == true { partner.closeAfterWrites(mode: .all) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

func usage() -> Never {
    let text = Array("usage: nio-forward -u PORT [-p PORT] [-t LOOPS]   (PORT 0-65535, upstream 1-65535, LOOPS 1-256)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

var port = 0
var upstreamPort = 0
var loops = System.coreCount
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst().flatMap({ Int($0) }) else { usage() }
    switch flag {
    case "-p" where (0...65535).contains(value): port = value
    case "-u" where (1...65535).contains(value): upstreamPort = value
    case "-t" where (1...256).contains(value): loops = value
    default: usage()
    }
}
guard upstreamPort != 0 else { usage() }
let upstream = try SocketAddress(ipAddress: "127.0.0.1", port: upstreamPort)
let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.allowRemoteHalfClosure, value: true)
    .childChannelInitializer { accepted in
        let downstream = Glue()
        do {
            try accepted.pipeline.syncOperations.addHandler(downstream)
        } catch {
            return accepted.eventLoop.makeFailedFuture(error)
        }
        ClientBootstrap(group: accepted.eventLoop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Glue()) }
            }
            .connect(to: upstream)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard let glue = try? channel.pipeline.syncOperations.handler(type: Glue.self) else {
                        channel.close(promise: nil)
                        accepted.close(promise: nil)
                        return
                    }
                    Glue.join(downstream, glue)
                    // The client may have left while the upstream was connecting.
                    if !accepted.isActive { channel.close(promise: nil) }
                case .failure:
                    accepted.close(promise: nil)
                }
            }
        return accepted.eventLoop.makeSucceededVoidFuture()
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
// Unbuffered: bench/run reads the line through a pipe while the server runs.
let line = Array("port \(server.localAddress?.port ?? 0)\n".utf8)
_ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
try server.closeFuture.wait()
