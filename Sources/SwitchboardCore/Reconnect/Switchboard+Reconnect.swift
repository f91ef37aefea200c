import Foundation

extension Switchboard {
    // MARK: Reconnecting sessions

    /// Starts keeping a named session connected; answers once the first attempt has succeeded
    /// or failed (a failed one is retried; the status says when).
    public func startReconnecting(_ spec: ConnectSpec) async throws(SwitchboardError) -> ReconnectStatus {
        guard let name = spec.name else { throw SwitchboardError(.invalidArgument, "a reconnecting session needs a name") }
        try ListenerSpec.validateName(name)
        try spec.options.validate()
        try Self.validateSessionFaults(spec.faults)
        try (spec.reconnect ?? ReconnectPolicy()).validate()
        // Refused now rather than retried for ever; each attempt is checked again.
        try await checkOutbound(spec.endpoint)
        try state.withLock { s throws(SwitchboardError) in
            guard !s.shuttingDown else { throw SwitchboardError(.shuttingDown, "the service is shutting down") }
            guard s.openNames[name] == nil, !s.reservedSessionNames.contains(name), s.reconnectors[name] == nil else {
                throw SwitchboardError(.nameTaken, "a session named '\(name)' exists")
            }
            s.reservedSessionNames.insert(name)
        }
        defer { _ = state.withLock { $0.reservedSessionNames.remove(name) } }
        let createdAt = Date()
        if let store {
            do {
                try await store.saveReconnecting(spec, createdAt: createdAt)
            } catch {
                throw SwitchboardError(.storageUnavailable, "the session could not be stored, so it would not survive a restart: \(error)")
            }
        }
        return await launch(Reconnector(spec: spec, name: name, createdAt: createdAt), awaitFirstAttempt: true)
    }

    /// Brings back the reconnecting sessions saved by an earlier run; their first attempts run
    /// in the background.
    public func restoreReconnecting(_ saved: [SavedReconnecting]) async -> Int {
        var restored = 0
        for entry in saved {
            guard let name = entry.spec.name else { continue }
            let taken = state.withLock { s in s.reconnectors[name] != nil || s.openNames[name] != nil || s.shuttingDown }
            guard !taken else { continue }
            let reconnector = Reconnector(spec: entry.spec, name: name, createdAt: entry.createdAt)
            var problem = entry.problem
            if problem == nil {
                do throws(SwitchboardError) { try Self.validateSessionFaults(entry.spec.faults) } catch { problem = error.message }
            }
            if let problem {
                logger.error("saved reconnecting session could not be restored", metadata: ["name": "\(name)", "error": "\(problem)"])
                reconnector.markUnrestorable(problem)
                state.withLock { $0.reconnectors[name] = reconnector }
                continue
            }
            _ = await launch(reconnector, awaitFirstAttempt: false)
            restored += 1
        }
        return restored
    }

    func launch(_ reconnector: Reconnector, awaitFirstAttempt: Bool) async -> ReconnectStatus {
        state.withLock { $0.reconnectors[reconnector.name] = reconnector }
        let firstResult = OnceContinuation()
        reconnector.start(open: { [self] spec throws(SwitchboardError) in
            try await self.openOutbound(spec, inheriting: { reconnector.faults })
        }, report: { [self] status in
            if status.state == .waiting {
                logRepeating("reconnecting session waiting", key: "reconnect \(status.name)",
                             metadata: ["name": "\(status.name)", "error": "\(status.lastError ?? "")", "failures": "\(status.failures)"])
            }
            observers.forEach { $0.sessionReconnecting(status) }
            if status.state != .connecting { firstResult.resume(with: .success(())) }
        }, finished: {
            firstResult.resume(with: .success(()))
        })
        if awaitFirstAttempt { try? await firstResult.wait() }
        return reconnector.status
    }

    /// Stops retrying and closes the current connection; the name is forgotten durably.
    public func stopReconnecting(named name: String) async throws(SwitchboardError) -> ReconnectStatus {
        guard let reconnector = state.withLock({ $0.reconnectors[name] }) else {
            throw SwitchboardError(.notFound, "no reconnecting session named '\(name)'")
        }
        if let store {
            do {
                try await store.deleteReconnecting(named: name)
            } catch {
                throw SwitchboardError(.storageUnavailable, "the session could not be removed from the store: \(error)")
            }
        }
        state.withLock { s in
            if s.reconnectors[name] === reconnector { s.reconnectors.removeValue(forKey: name) }
        }
        await halt(reconnector)
        let status = reconnector.status
        observers.forEach { $0.sessionReconnecting(status) }
        return status
    }

    /// Stops a reconnector and closes its session. An attempt still connecting cannot be called
    /// back; the loop closes what it opens after the stop, so only shutdown waits for it, and
    /// not longer than `wait` (a connect timeout can be minutes).
    func halt(_ reconnector: Reconnector, wait: Duration = .zero) async {
        let (task, session) = reconnector.stop()
        if let session { await close(session, reset: false) }
        guard let task, wait > .zero else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await task.value }
            group.addTask { try? await Task.sleep(for: wait) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Where the reconnecting sessions stand, by name.
    public func reconnecting(named name: String? = nil) -> [ReconnectStatus] {
        state.withLock { s in
            s.reconnectors.values.filter { name == nil || $0.name == name }
        }.map(\.status).sorted { $0.name < $1.name }
    }
}
