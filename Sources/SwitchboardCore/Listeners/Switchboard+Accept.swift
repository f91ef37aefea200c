import Foundation
import Logging
import NIOCore

extension Switchboard {
    /// Runs on the new channel's event loop, before any of its data is read.
    func accepted(_ channel: any Channel, by listener: Listener) -> EventLoopFuture<Void> {
        let spec = listener.spec
        // Accepted by the kernel just before the listener closed: refused, not left unrecorded.
        guard !stopping.load(ordering: .relaxed) else { return channel.close() }
        guard reserveSessionSlot() else {
            listener.countRejected()
            logger.debug("connection refused: the service's session limit is reached", metadata: ["listener": "\(spec.name)", "max_sessions": "\(maxSessions)"])
            observers.forEach { $0.connectionRejected(listener: spec.name, reason: .serviceLimit) }
            return channel.close()
        }
        var hops = 0
        if case .forward = spec.mode {
            hops = forwardLoops.hops(from: channel)
            guard hops < ForwardLoopGuard.maxHops else {
                releaseSessionSlot()
                listener.countRejected()
                logRepeating("connection refused: forwarding loop", key: "loop \(spec.name)",
                             metadata: ["listener": "\(spec.name)", "hops": "\(hops)"])
                observers.forEach { $0.connectionRejected(listener: spec.name, reason: .forwardLoop) }
                return channel.close()
            }
        }
        let session = Session(
            id: .make(), role: .server, listener: spec.name, name: nil,
            channel: channel, behaviour: spec.mode.behaviour,
            capture: spec.capture ? captureSettings : nil, openedAt: Date()
        )
        let faults: [Fault]
        switch listener.admit(session) {
        case .admitted(let listenerFaults):
            faults = listenerFaults
        case .stopped:
            // Accepted by the kernel while the listener was being deleted: not a session.
            releaseSessionSlot()
            return channel.close()
        case .full:
            releaseSessionSlot()
            logger.debug("connection refused: max_sessions reached", metadata: ["listener": "\(spec.name)"])
            observers.forEach { $0.connectionRejected(listener: spec.name, reason: .listenerLimit) }
            return channel.close()
        }
        let onClose: @Sendable (Session) -> Void = { [self] session in
            listener.sessionClosed(session)
            self.didClose(session)
        }
        var applying: [Fault] = []
        if !faults.isEmpty {
            session.mutable.withLock { $0.faults.inherited = faults }
            applying = drawFaults(for: session)
        }
        let stages = FaultStage.stages(for: applying, session: session, reporter: faultReporter)
        do {
            try SessionChannelOptions.setAccepted(on: channel, mode: spec.mode)
            try spec.options.apply(to: channel)
            if case .forward(let upstream, let resetOnFailure) = spec.mode {
                let relay = try SessionPipeline.installRelay(
                    on: channel, session: session, options: spec.options, reporter: dataReporter, stages: stages, onClose: onClose
                )
                didOpen(session)
                let delay = applying.filter { $0.type == .connectDelay }.reduce(TimeAmount.zero) { $0 + $1.milliseconds("delay") }
                connectUpstream(for: relay, to: upstream, listener: listener, resetOnFailure: resetOnFailure, hops: hops, after: delay)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            try SessionPipeline.install(on: channel, session: session, options: spec.options, reporter: dataReporter, stages: stages, onClose: onClose)
        } catch {
            // Never opened: the handlers already added must not report it closed when removed.
            _ = session.markClosed()
            listener.sessionClosed(session)
            releaseSessionSlot()
            return channel.eventLoop.makeFailedFuture(error)
        }
        didOpen(session)
        return channel.eventLoop.makeSucceededVoidFuture()
    }
}
