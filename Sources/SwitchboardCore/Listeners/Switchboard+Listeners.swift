#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix

extension Switchboard {
    // MARK: Listeners

    public func createListener(_ spec: ListenerSpec) async throws(SwitchboardError) -> ListenerInfo {
        try Self.validate(spec)
        // Checked again for every accepted connection: a name may resolve differently later.
        if case .forward(let upstream, _) = spec.mode { try await checkOutbound(upstream) }
        try reserveListenerName(spec.name)
        let createdAt = Date()
        let listener: Listener
        do {
            listener = try await bindIfEnabled(spec, createdAt: createdAt)
        } catch {
            _ = state.withLock { $0.reservedListenerNames.remove(spec.name) }
            throw error
        }
        if let store {
            // A port the kernel picked is kept, so the listener comes back where clients know it.
            var stored = spec
            if let bound = listener.boundEndpoint { stored.address = bound }
            do {
                try await store.saveListener(stored, createdAt: createdAt)
            } catch {
                await stop(listener, closeSessions: true)
                _ = state.withLock { $0.reservedListenerNames.remove(spec.name) }
                throw SwitchboardError(.storageUnavailable, "the listener could not be stored, so it would not survive a restart: \(error)")
            }
        }
        return publish(listener)
    }

    /// Brings back listeners saved by an earlier run. One whose address cannot be bound any
    /// more is kept and reported with its error; nothing is written back to the store.
    public func restoreListeners(_ saved: [SavedListener]) async -> (restored: Int, failed: Int) {
        var restored = 0
        var failed = 0
        for entry in saved {
            let (spec, createdAt) = (entry.spec, entry.createdAt)
            do {
                try reserveListenerName(spec.name)
            } catch {
                logger.error("saved listener skipped", metadata: ["listener": "\(spec.name)", "error": "\(error)"])
                failed += 1
                continue
            }
            do throws(SwitchboardError) {
                if let problem = entry.problem { throw SwitchboardError(.invalidArgument, problem) }
                try Self.validate(spec)
                _ = publish(try await bindIfEnabled(spec, createdAt: createdAt))
                restored += 1
            } catch {
                let info = ListenerInfo.failed(spec, createdAt: createdAt, error: error.message)
                state.withLock { s in
                    s.reservedListenerNames.remove(spec.name)
                    s.failed[spec.name] = info
                }
                logger.error("saved listener could not be restored", metadata: ["listener": "\(spec.name)", "address": "\(spec.address)", "error": "\(error.message)"])
                observers.forEach { $0.listenerFailed(info) }
                failed += 1
            }
        }
        return (restored, failed)
    }

    static func validate(_ spec: ListenerSpec) throws(SwitchboardError) {
        try ListenerSpec.validateName(spec.name)
        if let max = spec.maxSessions, max < 1 {
            throw SwitchboardError(.invalidArgument, "max_sessions must be at least 1")
        }
        try spec.faults.validate()
        if case .forward = spec.mode {} else if let fault = spec.faults.first(where: { $0.type == .connectDelay }) {
            throw SwitchboardError(.invalidArgument, "fault '\(fault.name)': connect_delay delays the upstream connect of a forward listener; a listener in mode \(spec.mode.name) has none")
        }
    }

    /// A disabled listener is made without a socket: it keeps its name, spec and faults.
    func bindIfEnabled(_ spec: ListenerSpec, createdAt: Date) async throws(SwitchboardError) -> Listener {
        guard spec.enabled else { return Listener(spec: spec, createdAt: createdAt) }
        let listener = try await bind(spec, createdAt: createdAt)
        try await refuseForwardingToItself(listener)
        return listener
    }

    /// Known only once bound (port 0 picks the port): a forward listener whose upstream is its
    /// own socket would connect every connection to itself again, without end.
    func refuseForwardingToItself(_ listener: Listener) async throws(SwitchboardError) {
        guard case .forward(let upstream, _) = listener.spec.mode,
              ForwardLoopGuard.isOwnAddress(upstream, bound: listener.channel?.localAddress) else { return }
        await stop(listener, closeSessions: true)
        throw SwitchboardError(
            .invalidArgument,
            "forward_to \(upstream) is this listener's own address (\(listener.info.address)): every connection would connect to itself again"
        )
    }

    func reserveListenerName(_ name: String) throws(SwitchboardError) {
        try state.withLock { s throws(SwitchboardError) in
            guard !s.shuttingDown else { throw SwitchboardError(.shuttingDown, "the service is shutting down") }
            guard s.listeners[name] == nil, s.failed[name] == nil, !s.reservedListenerNames.contains(name) else {
                throw SwitchboardError(.nameTaken, "a listener named '\(name)' exists")
            }
            guard s.listeners.count + s.failed.count + s.reservedListenerNames.count < limits.maxListeners else {
                throw SwitchboardError(.limitReached, "the service has its most listeners (\(limits.maxListeners), --max-listeners); delete one first")
            }
            s.reservedListenerNames.insert(name)
        }
    }

    func bind(_ spec: ListenerSpec, createdAt: Date) async throws(SwitchboardError) -> Listener {
        let listener = Listener(spec: spec, createdAt: createdAt)
        // The accepted channels' options are set in `accepted`, not given here (see
        // `SessionChannelOptions`).
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(spec.options.backlog ?? ConnectionOptions.defaultBacklog))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                self.accepted(channel, by: listener)
            }
        do {
            let channel: any Channel
            switch spec.address {
            case .host(let host, let port):
                channel = try await bootstrap.bind(host: host, port: port).get()
            case .unix(let path):
                do {
                    channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
                } catch let error as IOError where error.errnoCode == EADDRINUSE && StaleUnixSocket.remove(at: path) {
                    channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
                }
            }
            listener.attach(channel)
            return listener
        } catch {
            throw Self.bindError(error, address: spec.address)
        }
    }

    func publish(_ listener: Listener) -> ListenerInfo {
        let info = listener.info
        state.withLock { s in
            s.reservedListenerNames.remove(listener.spec.name)
            s.listeners[listener.spec.name] = listener
        }
        logger.info("listener created", metadata: ["listener": "\(info.name)", "mode": "\(info.mode.name)", "address": "\(info.address)"])
        observers.forEach { $0.listenerCreated(info) }
        return info
    }

    public func listeners() -> [ListenerInfo] {
        let (live, failed) = state.withLock { (Array($0.listeners.values), Array($0.failed.values)) }
        // The listeners sorted, not their infos: sorting or joining infos copied each one field
        // by field, 15 reference counts each.
        let infos = live.sorted { $0.spec.name < $1.spec.name }.map(\.info)
        guard !failed.isEmpty else { return infos }
        return (infos + failed).sorted { $0.name < $1.name }
    }

    public func listener(named name: String) throws(SwitchboardError) -> ListenerInfo {
        let (live, failed) = state.withLock { ($0.listeners[name], $0.failed[name]) }
        guard let info = live?.info ?? failed else { throw Self.noListener(name) }
        return info
    }

    /// Stops accepting; with `closeSessions` also closes what the listener accepted.
    public func deleteListener(named name: String, closeSessions: Bool) async throws(SwitchboardError) -> ListenerInfo {
        // Held until the socket is closed, so a new listener of the same name cannot race for the address.
        try state.withLock { s throws(SwitchboardError) in
            guard s.listeners[name] != nil || s.failed[name] != nil else { throw Self.noListener(name) }
            guard !s.reservedListenerNames.contains(name) else {
                throw SwitchboardError(.nameTaken, "listener '\(name)' is being changed by another request")
            }
            s.reservedListenerNames.insert(name)
        }
        defer { _ = state.withLock { $0.reservedListenerNames.remove(name) } }
        // Forget it durably first: a listener that stopped but stayed stored would come back.
        if let store {
            do {
                try await store.deleteListener(named: name)
            } catch {
                throw SwitchboardError(.storageUnavailable, "the listener could not be removed from the store: \(error)")
            }
        }
        let (listener, failed) = state.withLock { s in (s.listeners.removeValue(forKey: name), s.failed.removeValue(forKey: name)) }
        let info: ListenerInfo
        if let listener {
            await stop(listener, closeSessions: closeSessions)
            info = listener.info
        } else {
            info = failed!
        }
        logger.info("listener deleted", metadata: ["listener": "\(name)"])
        observers.forEach { $0.listenerDeleted(info) }
        return info
    }

    func stop(_ listener: Listener, closeSessions: Bool) async {
        listener.deactivate()
        if let channel = listener.channel {
            try? await channel.close().get()
            // Only a socket this listener bound is its to remove.
            if case .unix(let path) = listener.spec.address { unlink(path) }
        }
        if closeSessions {
            await withTaskGroup(of: Void.self) { group in
                for session in listener.openSessions {
                    group.addTask { await self.close(session, reset: false) }
                }
            }
        }
    }

    static func noListener(_ name: String) -> SwitchboardError {
        SwitchboardError(.notFound, "no listener named '\(name)'")
    }
}
