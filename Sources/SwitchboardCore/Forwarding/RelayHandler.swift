#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// One half of a forwarded pair: whatever its channel reads is written to the partner's channel.
///
/// Both halves live on one event loop (the upstream is connected on the loop that accepted the
/// client), so partners call each other directly, with no hops and no locks. The buffers NIO
/// reads into are handed on as they are: no copies. A half reads only while its partner's
/// channel is writable, so a slow receiver holds back its sender instead of growing memory.
final class RelayHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let session: Session
    private let reporter: DataReporter
    private let onClose: @Sendable (Session) -> Void
    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    /// A `read()` held back: no partner yet, or the partner cannot take more.
    private var readPending = false
    /// The channel went inactive (its handler may not even be active yet when the upstream connects).
    private(set) var ended = false
    /// A `fail` that came before the channel was active, carried out once it is.
    private var pendingFailure: (reason: CloseReason, reset: Bool)?

    init(session: Session, reporter: DataReporter, onClose: @escaping @Sendable (Session) -> Void) {
        self.session = session
        self.reporter = reporter
        self.onClose = onClose
    }

    /// Joins two halves; reads held back while the upstream was connecting start now.
    static func join(_ a: RelayHandler, _ b: RelayHandler) {
        a.partner = b
        b.partner = a
        a.session.partnerID = b.session.id
        b.session.partnerID = a.session.id
        a.releaseEarlyInput()
        b.releaseEarlyInput()
        a.resumeReading()
        b.resumeReading()
    }

    /// What the client sent (its FIN too) while the upstream was connecting waits in the
    /// `EarlyInbound` in front of this handler; it comes through now, in order.
    private func releaseEarlyInput() {
        guard let pipeline = context?.pipeline.syncOperations,
              let early = try? pipeline.handler(type: EarlyInbound.self) else { return }
        pipeline.removeHandler(early, promise: nil)
    }

    private func shutdownOutput() {
        closeAfterPendingWrites(mode: .output)
    }

    /// Closes once everything already queued for this side's peer has been written. NIO turns
    /// an output close into a full close when the input is shut already (the peer sent FIN),
    /// and a full close drops queued writes: a slow reader would lose the end of an answer.
    /// Write promises complete in order, so an empty write's completion marks the queue empty.
    private func closeAfterPendingWrites(mode: CloseMode) {
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
        // A channel NIO closed before it was ever registered (its listener closed just after
        // the accept) never goes inactive; its handlers are only removed. The session ends here
        // then, or it would stay open with no socket and hold a session slot for ever.
        if !ended {
            ended = true
            session.noteCloseReason(.local)
            if session.markClosed() { onClose(session) }
            partner?.closeForPartner(reset: false)
        }
        self.partner = nil
    }

    // MARK: Inbound: this side's peer → the partner's peer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let bytes = buffer.readableBytes
        session.relayed(.in, buffer)
        reporter.report(session, .in, bytes)
        // Never without a partner: the early buffer in front holds what comes before.
        partner?.writeFromPartner(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // Either half going quiet means the pair is quiet: bytes through one pass the other.
            session.noteCloseReason(.idle)
            partner?.session.noteCloseReason(.idle)
            context.close(promise: nil)
            return
        }
        if case ChannelEvent.inputClosed = event {
            // The peer is done sending: pass its FIN on, and keep the other direction flowing.
            // The peer ended first, so that is the reason, whenever the pair finally closes.
            session.noteCloseReason(.peer)
            partner?.shutdownOutput()
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The socket takes more, and no fault stage in front holds as much as it may.
    private var isWritable: Bool {
        guard let context else { return false }
        return context.channel.isWritable && !session.faultHoldsWrites.load(ordering: .relaxed)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if isWritable { partner?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason = CloseReason(error)
        session.noteCloseReason(reason)
        // A reset is passed on as a reset, so the other peer learns the connection broke.
        partner?.closeForPartner(reset: reason == .reset)
        context.close(promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if let failure = pendingFailure {
            pendingFailure = nil
            fail(failure.reason, reset: failure.reset)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended = true
        if session.markClosed() { onClose(session) }
        partner?.closeForPartner(reset: false)
        context.fireChannelInactive()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if let partner, partner.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    // Bytes an operator sends through the API into a relayed session (`Session.send` counts
    // them once the socket took them).
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        reporter.report(session, .out, buffer.readableBytes)
        context.write(data, promise: promise)
    }

    // MARK: Called by the partner, on the same event loop

    private func writeFromPartner(_ buffer: ByteBuffer) {
        guard let context else { return }
        session.relayed(.out, buffer)
        reporter.report(session, .out, buffer.readableBytes)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func resumeReading() {
        guard readPending, let context, partner?.isWritable == true else { return }
        readPending = false
        context.read()
    }

    /// The partner's connection ended; end this one too, unless it already has.
    func closeForPartner(reset: Bool) {
        guard let context, context.channel.isActive else { return }
        session.noteCloseReason(.partner)
        if reset {
            Self.setLingerZero(context.channel)
            context.close(promise: nil)
        } else {
            closeAfterPendingWrites(mode: .all)
        }
    }

    /// Before the upstream exists: the accepted connection is ended with the reason given.
    func fail(_ reason: CloseReason, reset: Bool) {
        guard let context else { return }
        // Refused at once (the outbound policy, the session limit): the accepted channel may not
        // even be active yet, and closing it now would never report the session closed.
        guard context.channel.isActive else {
            pendingFailure = (reason, reset)
            return
        }
        session.noteCloseReason(reason)
        if reset { Self.setLingerZero(context.channel) }
        context.close(promise: nil)
    }

    private static func setLingerZero(_ channel: any Channel) {
        // SO_LINGER 0 turns the close into an RST. On the channel's own loop the option is
        // set before the close below runs.
        _ = (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
    }
}
