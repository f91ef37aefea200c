import Foundation
import Logging
import NIOCore

extension Switchboard {
    /// Takes a session slot under the service-wide limit; false when none is left.
    func reserveSessionSlot() -> Bool {
        if liveSessions.wrappingAdd(1, ordering: .relaxed).newValue > maxSessions {
            liveSessions.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func releaseSessionSlot() {
        liveSessions.wrappingSubtract(1, ordering: .relaxed)
    }

    // MARK: Sessions

    public func sessions(_ filter: SessionFilter = .init()) -> [SessionInfo] {
        let (open, closed) = state.withLock { s in
            (Array(s.open.values), s.closed.map(\.session))
        }
        return (open.filter { filter.matches($0, open: true) } + closed.filter { filter.matches($0, open: false) })
            .map(\.info)
            .sorted { $0.id > $1.id }
    }

    public func session(_ id: SessionID) throws(SwitchboardError) -> SessionInfo {
        try find(id).info
    }

    /// Answers how many bytes the socket took: all of them, unless the caller was cancelled.
    @discardableResult
    public func send(_ id: SessionID, _ data: ByteBuffer) async throws(SwitchboardError) -> Int {
        try await find(id).send(data, unsentLimit: limits.maxUnsentBytesPerSession)
    }

    public func messages(_ id: SessionID, after: UInt64, wait: Duration, maxBytes: Int = 1 << 20) async throws(SwitchboardError) -> MessagePage {
        try await find(id).messages(after: after, wait: wait, maxBytes: maxBytes, maxWaiting: limits.maxLongPollsPerSession)
    }

    /// Closes a session (an RST with `reset`) and answers its final state; closing a closed one is a no-op.
    public func closeSession(_ id: SessionID, reset: Bool) async throws(SwitchboardError) -> SessionInfo {
        let session = try find(id)
        // Closing the current connection of a reconnecting name means: stop keeping it up.
        if let name = session.name,
           let reconnector = state.withLock({ $0.reconnectors[name] }), reconnector.currentSession === session {
            _ = try await stopReconnecting(named: name)
        }
        await close(session, reset: reset)
        return session.info
    }

    public var counts: SwitchboardCounts {
        state.withLock { SwitchboardCounts(listeners: $0.listeners.count, openSessions: $0.open.count, totalSessions: $0.totalSessions) }
    }

    func close(_ session: Session, reset: Bool) async {
        guard session.isOpen else { return }
        await session.close(reset: reset)
        // The handler reports the close from channelInactive; make sure the caller sees it either way.
        try? await session.closeFuture.get()
        if session.markClosed() { didClose(session) }
    }

    /// The channel a session holds, for tests: nil once it is closed, also while the closed
    /// session is still kept for queries.
    func channel(ofSession id: SessionID) -> (any Channel)? {
        (try? find(id))?.channel
    }

    func find(_ id: SessionID) throws(SwitchboardError) -> Session {
        guard let session = state.withLock({ $0.open[id] ?? $0.closedIndex[id] }) else {
            throw SwitchboardError(.notFound, "no session with id '\(id)'")
        }
        return session
    }

    /// Runs on the session's event loop, as its close does, so the two cannot interleave.
    func didOpen(_ session: Session) {
        let info = session.info
        // Observers first: the history spools the session before anybody can see it in the
        // API, so a session somebody saw is one a SIGKILL cannot lose.
        observers.forEach { $0.sessionOpened(info) }
        state.withLock { s in
            s.open[session.id] = session
            s.totalSessions += 1
            if let name = session.name { s.openNames[name] = session.id }
        }
        // Sessions are recorded in the history; a line each at info would flood the journal
        // (journald drops what passes its rate limit, important lines included) and costs a
        // synchronous write on the event loop per line (~10% of the CPU of a churned session).
        if logger.logLevel <= .debug {
            logger.debug("session opened", metadata: Self.metadata(info))
        }
    }

    func didClose(_ session: Session) {
        let info = session.info
        // Observers first: once a session no longer counts as open, its close is already on its
        // way to the history.
        observers.forEach { $0.sessionClosed(info) }
        let bytes = session.retainedBytes
        let now = ContinuousClock.now
        let removed = state.withLock { s -> Bool in
            guard s.open.removeValue(forKey: session.id) != nil else { return false }
            if let name = session.name, s.openNames[name] == session.id { s.openNames.removeValue(forKey: name) }
            s.closed.append(Closed(session: session, bytes: bytes, at: now))
            s.closedIndex[session.id] = session
            s.closedBytes += bytes
            while let oldest = s.closed.first,
                  s.closed.count > retention.count || s.closedBytes > retention.bytes || now - oldest.at > retention.age {
                s.closed.removeFirst()
                s.closedIndex.removeValue(forKey: oldest.session.id)
                s.closedBytes -= oldest.bytes
            }
            return true
        }
        if removed { releaseSessionSlot() }
        // Built only when it will be logged: on the churn path this dictionary was measurable.
        guard logger.logLevel <= .debug else { return }
        var metadata = Self.metadata(info)
        metadata["reason"] = "\(info.closeReason?.description ?? "")"
        metadata["bytes_in"] = "\(info.bytesIn)"
        metadata["bytes_out"] = "\(info.bytesOut)"
        logger.debug("session closed", metadata: metadata)
    }

    static func metadata(_ info: SessionInfo) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["session": "\(info.id)", "role": "\(info.role.rawValue)", "remote": "\(info.remoteAddress ?? "?")"]
        if let listener = info.listener { metadata["listener"] = "\(listener)" }
        if let name = info.name { metadata["name"] = "\(name)" }
        return metadata
    }
}
