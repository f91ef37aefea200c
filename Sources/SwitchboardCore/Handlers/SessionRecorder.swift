import NIOCore

/// On every session channel but a forwarded half, before the mode's handler: counts and records
/// what arrives (transcript, capture), holds back reads while an operator has too much unread
/// (and, for echo and reply, while the peer does not take what is written back), and reports
/// how and why the connection ended.
///
/// The writability half is NIO's `BackPressureHandler`'s job, done here: a handler of its own
/// cost every idle echo session 0.3 KiB and churn ~2 µs a session (bench/run, A B).
final class SessionRecorder: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer

    /// Fired through the pipeline when an operator has read enough to take more from the peer.
    struct ResumeReading: Sendable {}

    private let session: Session
    private let reporter: DataReporter
    private let onClose: @Sendable (Session) -> Void
    private let pausesForWritability: Bool
    private var pausedForOperator = false
    private var pausedForWritability = false
    private var readPending = false

    init(session: Session, reporter: DataReporter, pausesForWritability: Bool, onClose: @escaping @Sendable (Session) -> Void) {
        self.session = session
        self.reporter = reporter
        self.pausesForWritability = pausesForWritability
        self.onClose = onClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        reporter.report(session, .in, buffer.readableBytes)
        if session.received(buffer) { pausedForOperator = true }
        context.fireChannelRead(data)
    }

    // Writes are counted by whoever makes them (the mode's handler, or `Session.send` once the
    // socket took them); here they are only reported to live events.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        reporter.report(session, .out, unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        if pausedForOperator || pausedForWritability {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if pausesForWritability {
            pausedForWritability = !context.channel.isWritable || session.faultHoldsWrites.load(ordering: .relaxed)
            resumeIfPossible(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    private func resumeIfPossible(context: ChannelHandlerContext) {
        if readPending && !pausedForOperator && !pausedForWritability {
            readPending = false
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            session.noteCloseReason(.idle)
            context.close(promise: nil)
        } else if event is ResumeReading {
            pausedForOperator = false
            resumeIfPossible(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        session.noteCloseReason(CloseReason(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if session.markClosed() { onClose(session) }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A channel NIO closed before it was ever registered (its listener closed just after
        // the accept) never goes inactive; its handlers are only removed. The session ends here
        // then, or it would stay open with no socket and hold a session slot for ever.
        session.noteCloseReason(.local)
        if session.markClosed() { onClose(session) }
    }
}
