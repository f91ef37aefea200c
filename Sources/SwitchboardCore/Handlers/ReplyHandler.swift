import NIOCore

/// A reply listener's mode: answers each chunk it receives with the listener's `reply`, and
/// with `closeAfterReply` closes once the first answer is written.
final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let session: Session
    private let reply: ByteBuffer
    private let closeAfterReply: Bool
    private var closing = false

    init(session: Session, reply: ByteBuffer, closeAfterReply: Bool) {
        self.session = session
        self.reply = reply
        self.closeAfterReply = closeAfterReply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        session.sent(reply)
        guard closeAfterReply else {
            context.write(wrapOutboundOut(reply), promise: nil)
            return
        }
        closing = true
        session.noteCloseReason(.local)
        context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }
}
