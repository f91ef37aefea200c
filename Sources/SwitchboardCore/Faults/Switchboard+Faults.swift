import Foundation
import NIOCore

extension Switchboard {
    // MARK: Faults

    public func faults(on target: FaultTarget) throws(SwitchboardError) -> [Fault] {
        switch target {
        case .listener(let name):
            return try listener(named: name).faults
        case .reconnecting(let name):
            guard let reconnector = state.withLock({ $0.reconnectors[name] }) else { throw Self.noReconnecting(name) }
            return reconnector.faults
        case .session(let id):
            return try find(id).ownFaults
        }
    }

    /// Adds a fault; on a listener or a reconnecting session it is stored first, and reaches
    /// their live connections as well as the ones to come.
    @discardableResult
    public func addFault(_ fault: Fault, to target: FaultTarget) async throws(SwitchboardError) -> Fault {
        // What is wrong with the fault itself comes before whether its name is free.
        try fault.validate()
        return try await editFaults(on: target) { faults throws(SwitchboardError) in
            guard !faults.contains(where: { $0.name == fault.name }) else {
                throw SwitchboardError(.nameTaken, "\(target) has a fault named '\(fault.name)'")
            }
            faults.append(fault)
            return fault
        } notify: { observer, fault in
            observer.faultAdded(fault, on: target)
        }
    }

    /// Changes a fault in place (live connections too); `change` gets the fault as it is.
    @discardableResult
    public func changeFault(
        named name: String, on target: FaultTarget, _ change: @escaping @Sendable (inout Fault) throws(SwitchboardError) -> Void
    ) async throws(SwitchboardError) -> Fault {
        try await editFaults(on: target) { faults throws(SwitchboardError) in
            guard let index = faults.firstIndex(where: { $0.name == name }) else { throw Self.noFault(name, on: target) }
            var fault = faults[index]
            try change(&fault)
            guard fault.name == name else { throw SwitchboardError(.invalidArgument, "a fault's name cannot be changed") }
            faults[index] = fault
            return fault
        } notify: { observer, fault in
            observer.faultChanged(fault, on: target)
        }
    }

    /// Removes a fault; what a `latency` or `bandwidth` fault held is delivered at once, in order.
    @discardableResult
    public func removeFault(named name: String, from target: FaultTarget) async throws(SwitchboardError) -> Fault {
        try await editFaults(on: target) { faults throws(SwitchboardError) in
            guard let index = faults.firstIndex(where: { $0.name == name }) else { throw Self.noFault(name, on: target) }
            return faults.remove(at: index)
        } notify: { observer, fault in
            observer.faultRemoved(fault, from: target)
        }
    }

    /// Replaces all of a target's faults (Toxiproxy's reset, a re-populated proxy).
    public func replaceFaults(_ replacement: [Fault], on target: FaultTarget) async throws(SwitchboardError) {
        let before = try faults(on: target)
        _ = try await editFaults(on: target) { faults throws(SwitchboardError) in
            faults = replacement
            return replacement
        } notify: { _, _ in }
        for fault in before where !replacement.contains(where: { $0.name == fault.name }) {
            observers.forEach { $0.faultRemoved(fault, from: target) }
        }
        for fault in replacement {
            if let old = before.first(where: { $0.name == fault.name }) {
                if old != fault { observers.forEach { $0.faultChanged(fault, on: target) } }
            } else {
                observers.forEach { $0.faultAdded(fault, on: target) }
            }
        }
    }

    /// One change to one target's list, serialised with every other: checked, stored (a
    /// listener's or a reconnecting session's), then put into effect on the live connections.
    private func editFaults<T: Sendable>(
        on target: FaultTarget,
        _ edit: @escaping @Sendable (inout [Fault]) throws(SwitchboardError) -> T,
        notify: @escaping @Sendable (any SwitchboardObserver, T) -> Void
    ) async throws(SwitchboardError) -> T {
        try await faultEdits.run { [self] () async throws(SwitchboardError) -> T in
            var faults = try self.faults(on: target)
            let result = try edit(&faults)
            try faults.validate()
            try self.checkFaults(faults, fit: target)
            if let store, target.isStored {
                do {
                    try await store.saveFaults(faults, on: target)
                } catch {
                    throw SwitchboardError(.storageUnavailable, "the faults could not be stored, so they would not survive a restart: \(error)")
                }
            }
            try await self.putIntoEffect(faults, on: target)
            observers.forEach { notify($0, result) }
            return result
        }
    }

    /// Answers once every live connection has the change in its pipeline.
    private func putIntoEffect(_ faults: [Fault], on target: FaultTarget) async throws(SwitchboardError) {
        var changed: [EventLoopFuture<Void>] = []
        switch target {
        case .listener(let name):
            guard let listener = state.withLock({ $0.listeners[name] }) else { throw Self.noListener(name) }
            listener.faults = faults
            for session in listener.openSessions {
                session.mutable.withLock { $0.faults.inherited = faults }
                changed.append(refreshFaults(of: session))
            }
        case .reconnecting(let name):
            guard let reconnector = state.withLock({ $0.reconnectors[name] }) else { throw Self.noReconnecting(name) }
            reconnector.faults = faults
            if let id = state.withLock({ $0.openNames[name] }), let session = try? find(id) {
                session.mutable.withLock { $0.faults.inherited = faults }
                changed.append(refreshFaults(of: session))
            }
        case .session(let id):
            let session = try find(id)
            guard session.isOpen else { throw SwitchboardError(.sessionClosed, "session \(id) is closed; faults are for open sessions") }
            session.mutable.withLock { $0.faults.own = faults }
            changed.append(refreshFaults(of: session))
        }
        for future in changed { try? await future.get() }
    }

    /// What a target's kind allows: `connect_delay` delays a forward listener's upstream connect,
    /// so it means nothing elsewhere.
    func checkFaults(_ faults: [Fault], fit target: FaultTarget) throws(SwitchboardError) {
        if case .listener(let name) = target, let failed = state.withLock({ $0.failed[name] }) {
            throw SwitchboardError(.invalidArgument, "listener '\(name)' could not be restored (\(failed.error ?? "failed")); delete it and create it again to change its faults")
        }
        guard let fault = faults.first(where: { $0.type == .connectDelay }) else { return }
        if case .listener(let name) = target,
           let listener = state.withLock({ $0.listeners[name] }), case .forward = listener.spec.mode { return }
        throw SwitchboardError(.invalidArgument, "fault '\(fault.name)': connect_delay delays the upstream connect of a forward listener; \(target) has none")
    }

    /// Draws the session's faults again where they changed, and sets its fault stage to what
    /// applies, on its event loop.
    func refreshFaults(of session: Session) -> EventLoopFuture<Void> {
        guard let channel = session.channel else { return group.any().makeSucceededVoidFuture() }
        return channel.eventLoop.submit { [self] in
            let applying = self.drawFaults(for: session)
            FaultStage.set(applying, on: channel, session: session, reporter: faultReporter)
        }
    }

    /// The session's faults that apply now; each new draw is logged and reported.
    func drawFaults(for session: Session) -> [Fault] {
        var drawn: [SessionFault] = []
        let applying = session.mutable.withLock { $0.faults.applying(at: Date()) { drawn.append($0) } }
        for record in drawn where record.applied {
            observers.forEach { $0.faultApplied(record, session: session.id, listener: session.listener, name: session.name) }
        }
        return applying
    }

    static func noReconnecting(_ name: String) -> SwitchboardError {
        SwitchboardError(.notFound, "no reconnecting session named '\(name)'")
    }

    static func noFault(_ name: String, on target: FaultTarget) -> SwitchboardError {
        SwitchboardError(.notFound, "\(target) has no fault named '\(name)'")
    }
}

extension FaultTarget {
    /// Listeners and reconnecting sessions come back after a restart, and their faults with them.
    var isStored: Bool {
        if case .session = self { return false }
        return true
    }
}

extension Session {
    var ownFaults: [Fault] { mutable.withLock { $0.faults.own } }
}
