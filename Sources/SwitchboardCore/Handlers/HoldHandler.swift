import NIOCore

/// A hold listener's mode (and an outbound session's): the operator reads and writes through
/// the API. A client that shuts its write side (HTTP/1.0, `nc -N`) may be waiting for the
/// answer, so its FIN does not end the session; the operator's close does, or 60 s in which
/// the operator sent nothing (a client that closed outright looks the same, and must not hold
/// a session slot for ever).
final class HoldHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    static let finishedPeerGrace = TimeAmount.seconds(60)

    private let session: Session
    private var finishedPeerTimer: Scheduled<Void>?

    init(session: Session) { self.session = session }

    // What arrives is in the transcript already (the recorder): nothing more to do with it.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            session.notePeerFinishedSending()
            armFinishedPeerTimer(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The operator is answering: the grace starts again.
        if finishedPeerTimer != nil { armFinishedPeerTimer(context: context) }
        context.write(data, promise: promise)
    }

    private func armFinishedPeerTimer(context: ChannelHandlerContext) {
        finishedPeerTimer?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        finishedPeerTimer = context.eventLoop.scheduleTask(in: Self.finishedPeerGrace) {
            loopBound.value.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finishedPeerTimer?.cancel()
        finishedPeerTimer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finishedPeerTimer?.cancel()
        finishedPeerTimer = nil
    }
}
