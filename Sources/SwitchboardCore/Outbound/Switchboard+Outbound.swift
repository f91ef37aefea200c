import Foundation
import NIOCore
import NIOPosix

extension Switchboard {
    // MARK: Outbound sessions

    public func connect(_ spec: ConnectSpec) async throws(SwitchboardError) -> SessionInfo {
        if let name = spec.name {
            try ListenerSpec.validateName(name)
        }
        try spec.options.validate()
        try Self.validateSessionFaults(spec.faults)
        try state.withLock { s throws(SwitchboardError) in
            guard !s.shuttingDown else { throw SwitchboardError(.shuttingDown, "the service is shutting down") }
            if let name = spec.name {
                guard s.openNames[name] == nil, !s.reservedSessionNames.contains(name), s.reconnectors[name] == nil else {
                    throw SwitchboardError(.nameTaken, "an open session is named '\(name)'")
                }
                s.reservedSessionNames.insert(name)
            }
        }
        defer {
            if let name = spec.name { _ = state.withLock { $0.reservedSessionNames.remove(name) } }
        }
        return try await openOutbound(spec).info
    }

    static func validateSessionFaults(_ faults: [Fault]) throws(SwitchboardError) {
        try faults.validate()
        if let fault = faults.first(where: { $0.type == .connectDelay }) {
            throw SwitchboardError(.invalidArgument, "fault '\(fault.name)': connect_delay delays the upstream connect of a forward listener; a session has none")
        }
    }

    /// Connects, and makes the connection a session; the caller owns the name. A reconnecting
    /// session's connection takes its faults from `inheriting` (they change while it lives);
    /// any other has the spec's faults as its own.
    func openOutbound(_ spec: ConnectSpec, inheriting: (@Sendable () -> [Fault])? = nil) async throws(SwitchboardError) -> Session {
        guard reserveSessionSlot() else {
            let error = SwitchboardError(.limitReached, "the service's session limit (\(maxSessions)) is reached")
            observers.forEach { $0.connectFailed(listener: nil, name: spec.name, error: error) }
            throw error
        }
        // The handler joins once the session exists; until then nothing may be read and lost.
        let loop = group.next()
        let channel: any Channel
        let early = EarlyInbound.Holder()
        do {
            // The outbound policy is checked on every attempt, on the address connected to.
            channel = try await connectChecked(spec.endpoint, timeout: spec.connectTimeout, on: loop) { timeLeft in
                ClientBootstrap(group: loop)
                    .connectTimeout(timeLeft)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try SessionChannelOptions.setOutbound(on: channel)
                            let handler = EarlyInbound()
                            early.handler = handler
                            try channel.pipeline.syncOperations.addHandler(handler)
                        }
                    }
            }.get()
        } catch {
            releaseSessionSlot()
            let failure = Self.connectError(error, endpoint: spec.endpoint, timeout: spec.connectTimeout)
            observers.forEach { $0.connectFailed(listener: nil, name: spec.name, error: failure) }
            throw failure
        }
        let session = Session(
            id: .make(), role: .client, listener: nil, name: spec.name, channel: channel, behaviour: .hold,
            capture: spec.capture ? captureSettings : nil, openedAt: Date()
        )
        do {
            try await channel.eventLoop.submit { [self] in
                // A server that greets and hangs up at once may have closed the channel by now:
                // the session still opened, and is recorded with what it received.
                var attached = true
                let inherited = inheriting?() ?? []
                var applying: [Fault] = []
                if !inherited.isEmpty || (inheriting == nil && !spec.faults.isEmpty) {
                    session.mutable.withLock { m in
                        m.faults.inherited = inherited
                        if inheriting == nil { m.faults.own = spec.faults }
                    }
                    applying = drawFaults(for: session)
                }
                do {
                    try spec.options.apply(to: channel)
                    try SessionPipeline.install(
                        on: channel, session: session, options: spec.options, reporter: dataReporter,
                        stages: FaultStage.stages(for: applying, session: session, reporter: faultReporter)
                    ) { [self] in self.didClose($0) }
                } catch {
                    if channel.isActive { throw error }
                    attached = false
                }
                didOpen(session)
                // Changed between the read above and the name's registration in didOpen: the
                // change did not find this session, so it is put into effect here.
                if let inheriting, case let now = inheriting(), now != inherited {
                    session.mutable.withLock { $0.faults.inherited = now }
                    let applying = drawFaults(for: session)
                    FaultStage.set(applying, on: channel, session: session, reporter: faultReporter)
                }
                // What the server sent before the session existed (a banner, then maybe its FIN,
                // which NIO reads even without autoRead) goes to the session now.
                if let handler = early.handler {
                    if attached, (try? channel.pipeline.syncOperations.context(handler: handler)) != nil {
                        channel.pipeline.syncOperations.removeHandler(handler, promise: nil)
                    } else {
                        // Closed already and its pipeline taken down: count and keep the bytes.
                        for buffer in handler.takeHeld() { _ = session.received(buffer) }
                    }
                }
                if !channel.isActive, session.markClosed() { didClose(session) }
            }.get()
        } catch {
            // Never opened: the handlers already added must not report it closed when removed.
            _ = session.markClosed()
            releaseSessionSlot()
            channel.close(promise: nil)
            throw SwitchboardError(.connectRefused, "connected to \(spec.endpoint) but could not set up the session: \(error)")
        }
        // A connect that completed while the service was shutting down opened after the core
        // closed its sessions: close this one too, so it is recorded closed, not interrupted.
        if state.withLock({ $0.shuttingDown }) {
            await close(session, reset: false)
            throw SwitchboardError(.shuttingDown, "the service is shutting down")
        }
        if let data = spec.send, data.readableBytes > 0 {
            // In a task of its own, free of the caller's cancellation: the session is open now,
            // and a greeting half-sent because the HTTP client left would leave it without one.
            let limit = limits.maxUnsentBytesPerSession
            _ = try? await Task { try await session.send(data, unsentLimit: limit) }.value
        }
        try? await channel.setOption(ChannelOptions.autoRead, value: true).get()
        return session
    }
}
