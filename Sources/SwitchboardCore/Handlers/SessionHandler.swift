#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// The one handler on every session channel: counts and records bytes, carries out the
/// listener's mode, and reports how the connection ended.
///
/// It stays on the hot path of echo and reply listeners, so it does its work inline with no
/// allocations beyond the transcript entry.
final class SessionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Fired through the pipeline when an operator has read enough to take more from the peer.
    struct ResumeReading: Sendable {}

    private let session: Session
    private let reporter: DataReporter
    private let onClose: @Sendable (Session) -> Void
    /// Set when the handler has held back a `read()`, for unread data or an unwritable peer.
    private var readPending = false
    private var pausedForOperator = false
    private var pausedForWritability = false
    private var closeAfterFlush = false
    /// Ends a hold session whose client finished sending once the operator has been quiet on
    /// it for `finishedPeerGrace`: a client that closed outright looks the same as one that
    /// half-closed to wait for an answer, and must not hold a session slot for ever.
    private var finishedPeerTimer: Scheduled<Void>?

    static let finishedPeerGrace = TimeAmount.seconds(60)

    init(session: Session, reporter: DataReporter, onClose: @escaping @Sendable (Session) -> Void) {
        self.session = session
        self.reporter = reporter
        self.onClose = onClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        reporter.report(session, .in, buffer.readableBytes)
        switch session.behaviour {
        case .echo:
            _ = session.received(buffer)
            session.sent(buffer)
            reporter.report(session, .out, buffer.readableBytes)
            context.write(wrapOutboundOut(buffer), promise: nil)
        case .reply(let reply, let closeAfterReply):
            _ = session.received(buffer)
            guard !closeAfterFlush else { return }
            session.sent(reply)
            reporter.report(session, .out, reply.readableBytes)
            if closeAfterReply {
                closeAfterFlush = true
                session.noteCloseReason(.local)
                context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            } else {
                context.write(wrapOutboundOut(reply), promise: nil)
            }
        case .hold, .forward:
            if session.received(buffer) { pausedForOperator = true }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    // Operator sends come through here (`Session.send` counts them once the socket took them).
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        reporter.report(session, .out, buffer.readableBytes)
        // The operator is answering: the grace starts again.
        if finishedPeerTimer != nil { armFinishedPeerTimer(context: context) }
        // A peer that resets while this write is queued may be noticed by the write, not a
        // read; the write's failure runs before the channel goes inactive, so the reason is kept.
        let promise = promise ?? context.eventLoop.makePromise()
        let session = self.session
        promise.futureResult.whenFailure { error in
            if case .reset = Self.reason(for: error) { session.noteCloseReason(.reset) }
        }
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
        // An echo peer that does not read what it gets back must not make us buffer without end.
        pausedForWritability = !context.channel.isWritable
        resumeIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            session.noteCloseReason(.idle)
            context.close(promise: nil)
        } else if case ChannelEvent.inputClosed = event {
            // Only hold listeners allow half-closure: the peer is done sending, and the session
            // stays open for the operator's answer until the operator (or a failed write) ends it.
            session.notePeerFinishedSending()
            armFinishedPeerTimer(context: context)
            context.fireUserInboundEventTriggered(event)
        } else if event is ResumeReading {
            pausedForOperator = false
            resumeIfPossible(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func resumeIfPossible(context: ChannelHandlerContext) {
        if readPending && !pausedForOperator && !pausedForWritability {
            readPending = false
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        session.noteCloseReason(Self.reason(for: error))
        context.close(promise: nil)
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
        if session.markClosed() { onClose(session) }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finishedPeerTimer?.cancel()
        finishedPeerTimer = nil
        // A channel NIO closed before it was ever registered (its listener closed just after
        // the accept) never goes inactive; its handlers are only removed. The session ends here
        // then, or it would stay open with no socket and hold a session slot for ever.
        session.noteCloseReason(.local)
        if session.markClosed() { onClose(session) }
    }

    static func reason(for error: any Error) -> CloseReason {
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNRESET, EPIPE: return .reset
            case ETIMEDOUT: return .error("timed out")
            default: return .error(io.description)
            }
        }
        return .error("\(error)")
    }
}
