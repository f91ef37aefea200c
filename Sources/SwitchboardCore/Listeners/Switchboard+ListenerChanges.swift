import Foundation
import Logging

extension Switchboard {
    // MARK: Changing a listener

    /// Changes a live listener's address, mode, faults or whether it is enabled, as Toxiproxy
    /// changes a proxy: `change` gets the spec as it is now (its faults as changed since its
    /// creation, its address with the port it was bound to). A spec that differs in address,
    /// mode or `enabled` restarts the listener: its socket and every connection it accepted
    /// are closed, and it binds again with the new spec unless disabled. The new spec is stored.
    ///
    /// A listener that cannot be bound with the new spec is kept disabled with it (stored so),
    /// and the bind's error is thrown: Toxiproxy's proxy that failed to start.
    @discardableResult
    public func changeListener(
        named name: String, _ change: @escaping @Sendable (inout ListenerSpec) throws(SwitchboardError) -> Void
    ) async throws(SwitchboardError) -> ListenerInfo {
        // With the fault edits, so that no fault change lands on the listener being replaced.
        try await faultEdits.run { [self] () async throws(SwitchboardError) -> ListenerInfo in
            let old = try self.reserveForChange(name)
            defer { _ = self.state.withLock { $0.reservedListenerNames.remove(name) } }
            var current = old.spec
            current.faults = old.faults
            if let bound = old.boundEndpoint { current.address = bound }
            var spec = current
            try change(&spec)
            guard spec.name == name else { throw SwitchboardError(.invalidArgument, "a listener's name cannot be changed") }
            guard spec.address != current.address || spec.mode != current.mode || spec.enabled != current.enabled || spec.faults != current.faults else {
                return old.info
            }
            try Self.validate(spec)
            if case .forward(let upstream, _) = spec.mode, spec.mode != current.mode { try await self.checkOutbound(upstream) }
            await self.stop(old, closeSessions: true)
            var failure: SwitchboardError?
            let replacement: Listener
            do throws(SwitchboardError) {
                replacement = try await self.bindIfEnabled(spec, createdAt: old.createdAt)
            } catch {
                failure = error
                spec.enabled = false
                replacement = Listener(spec: spec, createdAt: old.createdAt)
            }
            replacement.continueCounts(from: old)
            self.state.withLock { $0.listeners[name] = replacement }
            let info = replacement.info
            self.logger.info("listener changed", metadata: ["listener": "\(name)", "address": "\(info.address)", "state": "\(info.state.rawValue)"])
            if let store = self.store {
                var stored = spec
                if let bound = replacement.boundEndpoint { stored.address = bound }
                do {
                    try await store.saveListener(stored, createdAt: old.createdAt)
                } catch {
                    self.logger.error("a changed listener could not be stored", metadata: ["listener": "\(name)", "error": "\(error)"])
                    throw SwitchboardError(.storageUnavailable, "listener '\(name)' changed, but the change could not be stored and would not survive a restart: \(error)")
                }
            }
            if let failure { throw failure }
            return info
        }
    }

    /// The live listener of that name, held against deletes and other changes until released.
    private func reserveForChange(_ name: String) throws(SwitchboardError) -> Listener {
        try state.withLock { s throws(SwitchboardError) -> Listener in
            guard !s.shuttingDown else { throw SwitchboardError(.shuttingDown, "the service is shutting down") }
            if let failed = s.failed[name] {
                throw SwitchboardError(.invalidArgument, "listener '\(name)' could not be restored (\(failed.error ?? "failed")); delete it and create it again to change it")
            }
            guard let listener = s.listeners[name] else { throw Self.noListener(name) }
            guard !s.reservedListenerNames.contains(name) else {
                throw SwitchboardError(.nameTaken, "listener '\(name)' is being changed by another request")
            }
            s.reservedListenerNames.insert(name)
            return listener
        }
    }
}
