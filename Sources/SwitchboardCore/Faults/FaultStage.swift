#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// The faults of one connection, in its pipeline next to the socket: what it reads passes
/// `inbound`, what is written to it passes `outbound`, each held, cut, dropped or corrupted as
/// the faults of that direction say, and released on the event loop's own timers.
///
/// It is in a pipeline only while a fault applies to the session (`set`). It holds at most
/// `holdLimit` bytes a direction: past that it stops reading, or tells the writers behind it
/// (the relay, the recorder) to wait through `Session.faultHoldsWrites`, as a full socket
/// would.
final class FaultStage: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let holdLimit = 256 * 1024

    private let session: Session
    private let reporter: FaultReporter
    /// The bytes this channel reads flow upstream when it was accepted, downstream when it
    /// was opened by us.
    private let inboundDirection: FaultDirection
    private var inbound: FaultFlow
    private var outbound: FaultFlow
    private var context: ChannelHandlerContext?
    private var readPending = false
    private var holdsWrites = false
    private var inboundTimer: (at: NIODeadline, task: Scheduled<Void>)?
    private var outboundTimer: (at: NIODeadline, task: Scheduled<Void>)?
    private var closeTimer: Scheduled<Void>?
    private var resetTimer: Scheduled<Void>?

    init(faults: [Fault], session: Session, reporter: FaultReporter) {
        self.session = session
        self.reporter = reporter
        self.inboundDirection = session.role == .server ? .upstream : .downstream
        let (inboundRules, outboundRules) = Self.rules(faults, inboundDirection: inboundDirection)
        self.inbound = FaultFlow(rules: inboundRules)
        self.outbound = FaultFlow(rules: outboundRules)
    }

    private static func rules(_ faults: [Fault], inboundDirection: FaultDirection) -> (FaultRules, FaultRules) {
        (FaultRules(faults.filter { $0.direction == inboundDirection }),
         FaultRules(faults.filter { $0.direction != inboundDirection }))
    }

    /// Puts `faults` into effect on the session's channel, on its event loop: adds the stage,
    /// changes it, or takes it out (delivering what it held) when none is left.
    static func set(_ faults: [Fault], on channel: any Channel, session: Session, reporter: FaultReporter) {
        let faults = faults.filter { $0.type != .connectDelay }
        let pipeline = channel.pipeline.syncOperations
        let existing = try? pipeline.handler(type: FaultStage.self)
        if let existing {
            if faults.isEmpty {
                pipeline.removeHandler(existing, promise: nil)
            } else {
                existing.change(to: faults)
            }
        } else if !faults.isEmpty, channel.isActive {
            try? pipeline.addHandler(FaultStage(faults: faults, session: session, reporter: reporter), position: .first)
        }
    }

    static func remove(from channel: any Channel) {
        let pipeline = channel.pipeline.syncOperations
        if let stage = try? pipeline.handler(type: FaultStage.self) { pipeline.removeHandler(stage, promise: nil) }
    }

    /// Stages for a new session's pipeline: one when a fault applies, else none (and no cost).
    static func stages(for faults: [Fault], session: Session, reporter: FaultReporter) -> [any ChannelHandler] {
        let faults = faults.filter { $0.type != .connectDelay }
        guard !faults.isEmpty else { return [] }
        return [FaultStage(faults: faults, session: session, reporter: reporter)]
    }

    func change(to faults: [Fault]) {
        let (inboundRules, outboundRules) = Self.rules(faults, inboundDirection: inboundDirection)
        guard let context else {
            inbound = FaultFlow(rules: inboundRules)
            outbound = FaultFlow(rules: outboundRules)
            return
        }
        let now = context.eventLoop.now
        inbound.change(to: inboundRules, now: now)
        outbound.change(to: outboundRules, now: now)
        armCloseTimer()
        releaseInbound(fromTimer: true)
        releaseOutbound(fromTimer: true)
    }

    // MARK: Life

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armCloseTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        // Torn down with the channel: what is still held for the socket cannot be written.
        while let item = outbound.popAny() {
            switch item.held {
            case .data(_, let promise), .close(_, let promise): promise?.fail(ChannelError.ioOnClosedChannel)
            default: break
            }
        }
        if holdsWrites { session.faultHoldsWrites.store(false, ordering: .relaxed) }
        self.context = nil
    }

    /// Taken out while the connection lives (its last fault removed): what it held goes on at
    /// once, in order, before it leaves.
    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        cancelTimers()
        var read = false
        while let item = inbound.popAny() { read = deliverInbound(item, context: context) || read }
        if read { context.fireChannelReadComplete() }
        var wrote = false
        while let item = outbound.popAny() { wrote = deliverOutbound(item, context: context) || wrote }
        if wrote { context.flush() }
        updateWriteGate(context: context)
        if readPending {
            readPending = false
            context.read()
        }
        context.leavePipeline(removalToken: removalToken)
    }

    // MARK: Inbound: from the socket to the session's handlers

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let outcome = inbound.take(unwrapInboundIn(data), promise: nil, now: context.eventLoop.now)
        noted(outcome, rules: inbound.rules, context: context)
        releaseInbound(fromTimer: false)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, !inbound.passesEndAtOnce {
            inbound.takeEnd(.inputClosed, now: context.eventLoop.now)
            releaseInbound(fromTimer: false)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        resetTimer?.cancel()
        // Nothing can be written any more; the writes held fail now, as the socket's would.
        releaseOutboundAll(context: context)
        if inbound.passesEndAtOnce {
            context.fireChannelInactive()
        } else {
            inbound.takeEnd(.inactive, now: context.eventLoop.now)
            releaseInbound(fromTimer: false)
        }
    }

    func read(context: ChannelHandlerContext) {
        if inbound.heldBytes >= Self.holdLimit {
            readPending = true
        } else {
            context.read()
        }
    }

    // MARK: Outbound: from the session's handlers to the socket

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let outcome = outbound.take(unwrapOutboundIn(data), promise: promise, now: context.eventLoop.now)
        noted(outcome, rules: outbound.rules, context: context)
        releaseOutbound(fromTimer: false)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if outbound.passesEndAtOnce {
            context.close(mode: mode, promise: promise)
        } else {
            outbound.takeEnd(.close(mode, promise), now: context.eventLoop.now)
            releaseOutbound(fromTimer: false)
        }
    }

    // MARK: Releasing what is due

    private func releaseInbound(fromTimer: Bool) {
        guard let context else { return }
        let now = context.eventLoop.now
        var read = false
        while let item = inbound.popDue(now) {
            read = deliverInbound(item, context: context) || read
        }
        // A chunk passed straight through is followed by the socket's own read-complete.
        if read && fromTimer { context.fireChannelReadComplete() }
        guard self.context != nil else { return }
        inboundTimer = rearm(inboundTimer, at: inbound.nextDue, context: context) { $0.releaseInbound(fromTimer: true) }
        if readPending && inbound.heldBytes < Self.holdLimit {
            readPending = false
            context.read()
        }
    }

    private func releaseOutbound(fromTimer: Bool) {
        guard let context else { return }
        let now = context.eventLoop.now
        var wrote = false
        while let item = outbound.popDue(now) {
            wrote = deliverOutbound(item, context: context) || wrote
        }
        // Written straight through, it goes out with the writer's own flush.
        if wrote && fromTimer { context.flush() }
        guard self.context != nil else { return }
        outboundTimer = rearm(outboundTimer, at: outbound.nextDue, context: context) { $0.releaseOutbound(fromTimer: true) }
        updateWriteGate(context: context)
    }

    private func releaseOutboundAll(context: ChannelHandlerContext) {
        outboundTimer?.task.cancel()
        outboundTimer = nil
        while let item = outbound.popAny() { _ = deliverOutbound(item, context: context) }
        updateWriteGate(context: context)
    }

    /// Answers whether it passed data on.
    private func deliverInbound(_ item: FaultFlow.Item, context: ChannelHandlerContext) -> Bool {
        switch item.held {
        case .data(let buffer, _):
            context.fireChannelRead(wrapInboundOut(buffer))
            return true
        case .inputClosed:
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        case .inactive:
            context.fireChannelInactive()
        case .closeConnection:
            closeAfterWrites(context: context)
        case .close(let mode, let promise):
            context.close(mode: mode, promise: promise)
        }
        return false
    }

    /// `limit_data` reached: closed once what was written before (an echo of the last bytes
    /// let through, still unflushed) has gone; a full close at once would drop it.
    private func closeAfterWrites(context: ChannelHandlerContext) {
        session.noteCloseReason(.fault("limit_data"))
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func deliverOutbound(_ item: FaultFlow.Item, context: ChannelHandlerContext) -> Bool {
        switch item.held {
        case .data(let buffer, let promise):
            context.write(wrapOutboundOut(buffer), promise: promise)
            return true
        case .close(let mode, let promise):
            context.close(mode: mode, promise: promise)
        case .closeConnection:
            closeAfterWrites(context: context)
        case .inputClosed, .inactive:
            break
        }
        return false
    }

    private func rearm(
        _ timer: (at: NIODeadline, task: Scheduled<Void>)?, at next: NIODeadline?, context: ChannelHandlerContext,
        _ body: @escaping (FaultStage) -> Void
    ) -> (at: NIODeadline, task: Scheduled<Void>)? {
        guard let next else {
            timer?.task.cancel()
            return nil
        }
        if let timer, timer.at == next { return timer }
        timer?.task.cancel()
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: next) { [self] in body(self) }
        return (next, task)
    }

    private func updateWriteGate(context: ChannelHandlerContext) {
        let holds = outbound.heldBytes >= Self.holdLimit
        guard holds != holdsWrites else { return }
        holdsWrites = holds
        session.faultHoldsWrites.store(holds, ordering: .relaxed)
        context.fireChannelWritabilityChanged()
    }

    // MARK: Closing and resetting

    private func noted(_ outcome: FaultFlow.Outcome, rules: FaultRules, context: ChannelHandlerContext) {
        if outcome.delayed > 0 { reporter.report(rules.delayType, .init(delayed: outcome.delayed)) }
        if outcome.dropped > 0 {
            let type: FaultType = rules.resetAfter != nil ? .resetPeer : rules.limit != nil && !rules.swallows ? .limitData : .blackhole
            reporter.report(type, .init(dropped: outcome.dropped))
        }
        if outcome.corrupted > 0 { reporter.report(.corrupt, .init(corrupted: outcome.corrupted)) }
        if outcome.armReset, let after = rules.resetAfter {
            if after == .zero {
                reset(context: context)
            } else {
                resetTimer = context.eventLoop.assumeIsolated().scheduleTask(in: after) { [self] in
                    if let context = self.context { self.reset(context: context) }
                }
            }
        }
    }

    /// `timeout` with a time: the connection is closed that long after the fault met it.
    private func armCloseTimer() {
        guard let context else { return }
        let after = [inbound.rules.closeAfter, outbound.rules.closeAfter].compactMap { $0 }.min()
        closeTimer?.cancel()
        closeTimer = nil
        guard let after else { return }
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: after) { [self] in
            guard let context = self.context else { return }
            self.session.noteCloseReason(.fault("timeout"))
            context.close(promise: nil)
        }
    }

    private func reset(context: ChannelHandlerContext) {
        session.noteCloseReason(.fault("reset_peer"))
        // SO_LINGER 0 turns the close into an RST.
        _ = (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        context.close(promise: nil)
    }

    private func cancelTimers() {
        inboundTimer?.task.cancel()
        outboundTimer?.task.cancel()
        closeTimer?.cancel()
        resetTimer?.cancel()
        (inboundTimer, outboundTimer, closeTimer, resetTimer) = (nil, nil, nil, nil)
    }
}
