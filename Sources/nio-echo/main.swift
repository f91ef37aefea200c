// nio-echo: the second reference peer of bench/run's churn scenario.
//
// The smallest SwiftNIO echo server that does the socket work of switchboard's echo listener:
// accept, TCP_NODELAY, write back what is read, close after its writes once the peer has sent
// FIN (half-closure allowed, as switchboard does). Nothing else: no session bookkeeping, no
// history. Against the C epoll server it shows what SwiftNIO itself costs per connection;
// switchboard's figure less this one is what the service adds.
//
// usage: nio-echo [-p PORT] [-t LOOPS]   prints "port N" once listening.
import Glibc
import NIOCore
import NIOPosix

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

func usage() -> Never {
    let text = Array("usage: nio-echo [-p PORT] [-t LOOPS]   (PORT 0-65535, LOOPS 1-256)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

var port = 0
var loops = System.coreCount
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst().flatMap({ Int($0) }) else { usage() }
    switch flag {
    case "-p" where (0...65535).contains(value): port = value
    case "-t" where (1...256).contains(value): loops = value
    default: usage()
    }
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.allowRemoteHalfClosure, value: true)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
// Unbuffered: bench/run reads the line through a pipe while the server runs.
let line = Array("port \(server.localAddress?.port ?? 0)\n".utf8)
_ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
try server.closeFuture.wait()
