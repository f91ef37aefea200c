import NIOCore

/// An echo listener's mode: writes back every byte it receives. The recorder in front of it
/// stops reading while the peer does not take the echo.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let session: Session

    init(session: Session) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.sent(unwrapInboundIn(data))
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }
}
