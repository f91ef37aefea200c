#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// What an operator asks for when opening an outbound session.
public struct ConnectSpec: Sendable {
    public var endpoint: Endpoint
    public var name: String?
    public var send: ByteBuffer?
    public var connectTimeout: Duration
    public var capture: Bool

    public static let defaultConnectTimeout = Duration.seconds(10)

    public init(endpoint: Endpoint, name: String? = nil, send: ByteBuffer? = nil, connectTimeout: Duration = defaultConnectTimeout, capture: Bool = false) {
        self.endpoint = endpoint
        self.name = name
        self.send = send
        self.connectTimeout = connectTimeout
        self.capture = capture
    }
}

public struct SessionFilter: Sendable {
    public var listener: String?
    public var role: SessionRole?
    public var state: SessionState?
    public var name: String?
    public init(listener: String? = nil, role: SessionRole? = nil, state: SessionState? = nil, name: String? = nil) {
        self.listener = listener
        self.role = role
        self.state = state
        self.name = name
    }

    func matches(_ session: Session, open: Bool) -> Bool {
        (listener == nil || session.listener == listener)
            && (role == nil || session.role == role)
            && (name == nil || session.name == name)
            && (state == nil || (state == .open) == open)
    }
}

/// How many closed sessions stay readable in memory, and for how long.
public struct ClosedSessionRetention: Sendable {
    public var count = 1000
    public var bytes = 64 << 20
    public var age = Duration.seconds(3600)
    public init() {}
}

public struct SwitchboardCounts: Sendable {
    public let listeners: Int
    public let openSessions: Int
    public let totalSessions: UInt64
}

/// Hands `sessionData` events to observers while somebody wants them.
final class DataReporter: Sendable {
    private let flag = Atomic<Bool>(false)
    private let observers: [any SwitchboardObserver]

    init(observers: [any SwitchboardObserver]) { self.observers = observers }

    var enabled: Bool {
        get { flag.load(ordering: .relaxed) }
        set { flag.store(newValue, ordering: .relaxed) }
    }

    @inline(__always)
    func report(_ session: Session, _ direction: Message.Direction, _ bytes: Int) {
        guard flag.load(ordering: .relaxed), bytes > 0 else { return }
        let event = SessionDataEvent(sessionID: session.id, listener: session.listener, direction: direction, bytes: bytes, at: Date())
        for observer in observers { observer.sessionData(event) }
    }
}

/// The socket core: every listener and session of the process, on one event loop group.
public final class Switchboard: Sendable {
    public let group: any EventLoopGroup
    private let logger: Logger
    private let observers: [any SwitchboardObserver]
    private let retention: ClosedSessionRetention
    private let store: (any ListenerStore)?
    private let captureSettings: CaptureSettings

    private struct Closed {
        let session: Session
        let bytes: Int
        let at: ContinuousClock.Instant
    }

    private struct State {
        var listeners: [String: Listener] = [:]
        /// Restored listeners whose address could not be bound, kept to be reported, not dropped.
        var failed: [String: ListenerInfo] = [:]
        /// Names being bound or deleted right now, so two requests cannot race for one name.
        var reservedListenerNames: Set<String> = []
        var open: [SessionID: Session] = [:]
        var openNames: [String: SessionID] = [:]
        var reservedSessionNames: Set<String> = []
        var closed = CircularBuffer<Closed>()
        var closedIndex: [SessionID: Session] = [:]
        var closedBytes = 0
        var totalSessions: UInt64 = 0
        var shuttingDown = false
    }
    private let state = Mutex(State())
    let dataReporter: DataReporter

    /// Whether observers get `sessionData` calls; off unless somebody listens (live events), as
    /// it costs a call per read on every session.
    public var reportsData: Bool {
        get { dataReporter.enabled }
        set { dataReporter.enabled = newValue }
    }

    /// Bytes captured per session before capture stops (and records that it was cut short).
    public static let defaultCaptureLimit = 1 << 20

    public init(
        group: any EventLoopGroup, logger: Logger, observers: [any SwitchboardObserver] = [],
        store: (any ListenerStore)? = nil, captureLimit: Int = defaultCaptureLimit,
        retention: ClosedSessionRetention = .init()
    ) {
        self.group = group
        self.logger = logger
        self.observers = observers
        self.store = store
        self.retention = retention
        self.dataReporter = DataReporter(observers: observers)
        self.captureSettings = CaptureSettings(limit: captureLimit) { chunk in
            for observer in observers { observer.sessionCaptured(chunk) }
        }
    }

    // MARK: Listeners

    public func createListener(_ spec: ListenerSpec) async throws(SwitchboardError) -> ListenerInfo {
        try Self.validate(spec)
        try reserveListenerName(spec.name)
        let createdAt = Date()
        let listener: Listener
        do {
            listener = try await bind(spec, createdAt: createdAt)
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
    public func restoreListeners(_ saved: [(spec: ListenerSpec, createdAt: Date)]) async -> (restored: Int, failed: Int) {
        var restored = 0
        var failed = 0
        for (spec, createdAt) in saved {
            do {
                try Self.validate(spec)
                try reserveListenerName(spec.name)
            } catch {
                logger.error("saved listener skipped", metadata: ["listener": "\(spec.name)", "error": "\(error)"])
                failed += 1
                continue
            }
            do {
                let listener = try await bind(spec, createdAt: createdAt)
                _ = publish(listener)
                restored += 1
            } catch {
                let info = ListenerInfo.failed(spec, createdAt: createdAt, error: error.message)
                state.withLock { s in
                    s.reservedListenerNames.remove(spec.name)
                    s.failed[spec.name] = info
                }
                logger.error("saved listener could not be restored", metadata: ["listener": "\(spec.name)", "address": "\(spec.address)", "error": "\(error.message)"])
                failed += 1
            }
        }
        return (restored, failed)
    }

    private static func validate(_ spec: ListenerSpec) throws(SwitchboardError) {
        try ListenerSpec.validateName(spec.name)
        if let max = spec.maxSessions, max < 1 {
            throw SwitchboardError(.invalidArgument, "max_sessions must be at least 1")
        }
    }

    private func reserveListenerName(_ name: String) throws(SwitchboardError) {
        try state.withLock { s throws(SwitchboardError) in
            guard !s.shuttingDown else { throw SwitchboardError(.shuttingDown, "the service is shutting down") }
            guard s.listeners[name] == nil, s.failed[name] == nil, !s.reservedListenerNames.contains(name) else {
                throw SwitchboardError(.nameTaken, "a listener named '\(name)' exists")
            }
            s.reservedListenerNames.insert(name)
        }
    }

    private func bind(_ spec: ListenerSpec, createdAt: Date) async throws(SwitchboardError) -> Listener {
        let listener = Listener(spec: spec, createdAt: createdAt)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
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
                channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
            }
            listener.attach(channel)
            return listener
        } catch {
            throw Self.bindError(error, address: spec.address)
        }
    }

    private func publish(_ listener: Listener) -> ListenerInfo {
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
        return (live.map(\.info) + failed).sorted { $0.name < $1.name }
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

    private func stop(_ listener: Listener, closeSessions: Bool) async {
        listener.deactivate()
        try? await listener.channel?.close().get()
        if case .unix(let path) = listener.spec.address {
            unlink(path)
        }
        if closeSessions {
            await withTaskGroup(of: Void.self) { group in
                for session in listener.openSessions {
                    group.addTask { await self.close(session, reset: false) }
                }
            }
        }
    }

    /// Runs on the new channel's event loop, before any of its data is read.
    private func accepted(_ channel: any Channel, by listener: Listener) -> EventLoopFuture<Void> {
        let session = Session(
            id: .make(), role: .server, listener: listener.spec.name, name: nil,
            channel: channel, behaviour: listener.spec.mode.behaviour,
            capture: listener.spec.capture ? captureSettings : nil, openedAt: Date()
        )
        guard listener.admit(session) else {
            logger.debug("connection refused: max_sessions reached", metadata: ["listener": "\(listener.spec.name)"])
            return channel.close()
        }
        do {
            try channel.pipeline.syncOperations.addHandler(SessionHandler(session: session, reporter: dataReporter) { [self] session in
                listener.sessionClosed(session)
                self.didClose(session)
            })
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        didOpen(session)
        return channel.eventLoop.makeSucceededVoidFuture()
    }

    // MARK: Outbound sessions

    public func connect(_ spec: ConnectSpec) async throws(SwitchboardError) -> SessionInfo {
        if let name = spec.name {
            try ListenerSpec.validateName(name)
        }
        try state.withLock { s throws(SwitchboardError) in
            guard !s.shuttingDown else { throw SwitchboardError(.shuttingDown, "the service is shutting down") }
            if let name = spec.name {
                guard s.openNames[name] == nil, !s.reservedSessionNames.contains(name) else {
                    throw SwitchboardError(.nameTaken, "an open session is named '\(name)'")
                }
                s.reservedSessionNames.insert(name)
            }
        }
        defer {
            if let name = spec.name { _ = state.withLock { $0.reservedSessionNames.remove(name) } }
        }
        // The handler joins once the session exists; until then nothing may be read and lost.
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(spec.connectTimeout))
            .channelOption(ChannelOptions.autoRead, value: false)
        let channel: any Channel
        do {
            switch spec.endpoint {
            case .host(let host, let port):
                channel = try await bootstrap.connect(host: host, port: port).get()
            case .unix(let path):
                channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            }
        } catch {
            throw Self.connectError(error, endpoint: spec.endpoint, timeout: spec.connectTimeout)
        }
        let session = Session(
            id: .make(), role: .client, listener: nil, name: spec.name, channel: channel, behaviour: .interactive,
            capture: spec.capture ? captureSettings : nil, openedAt: Date()
        )
        do {
            try await channel.eventLoop.submit { [self] in
                try channel.pipeline.syncOperations.addHandler(SessionHandler(session: session, reporter: dataReporter) { [self] in self.didClose($0) })
                didOpen(session)
                if !channel.isActive, session.markClosed() { didClose(session) }
            }.get()
        } catch {
            channel.close(promise: nil)
            throw SwitchboardError(.connectRefused, "connected to \(spec.endpoint) but could not set up the session: \(error)")
        }
        if let data = spec.send, data.readableBytes > 0 {
            try? await session.send(data)
        }
        try? await channel.setOption(ChannelOptions.autoRead, value: true).get()
        return session.info
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

    public func send(_ id: SessionID, _ data: ByteBuffer) async throws(SwitchboardError) {
        try await find(id).send(data)
    }

    public func messages(_ id: SessionID, after: UInt64, wait: Duration, maxBytes: Int = 1 << 20) async throws(SwitchboardError) -> MessagePage {
        try await find(id).messages(after: after, wait: wait, maxBytes: maxBytes)
    }

    /// Closes a session (an RST with `reset`) and answers its final state; closing a closed one is a no-op.
    public func closeSession(_ id: SessionID, reset: Bool) async throws(SwitchboardError) -> SessionInfo {
        let session = try find(id)
        await close(session, reset: reset)
        return session.info
    }

    public var counts: SwitchboardCounts {
        state.withLock { SwitchboardCounts(listeners: $0.listeners.count, openSessions: $0.open.count, totalSessions: $0.totalSessions) }
    }

    private func close(_ session: Session, reset: Bool) async {
        guard session.isOpen else { return }
        await session.close(reset: reset)
        // The handler reports the close from channelInactive; make sure the caller sees it either way.
        try? await session.channel.closeFuture.get()
        if session.markClosed() { didClose(session) }
    }

    private func find(_ id: SessionID) throws(SwitchboardError) -> Session {
        guard let session = state.withLock({ $0.open[id] ?? $0.closedIndex[id] }) else {
            throw SwitchboardError(.notFound, "no session with id '\(id)'")
        }
        return session
    }

    private func didOpen(_ session: Session) {
        state.withLock { s in
            s.open[session.id] = session
            s.totalSessions += 1
            if let name = session.name { s.openNames[name] = session.id }
        }
        let info = session.info
        logger.info("session opened", metadata: Self.metadata(info))
        observers.forEach { $0.sessionOpened(info) }
    }

    private func didClose(_ session: Session) {
        let info = session.info
        // Observers first: once a session no longer counts as open, its close is already on its
        // way to the history.
        observers.forEach { $0.sessionClosed(info) }
        let bytes = session.retainedBytes
        let now = ContinuousClock.now
        state.withLock { s in
            guard s.open.removeValue(forKey: session.id) != nil else { return }
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
        }
        var metadata = Self.metadata(info)
        metadata["reason"] = "\(info.closeReason?.description ?? "")"
        metadata["bytes_in"] = "\(info.bytesIn)"
        metadata["bytes_out"] = "\(info.bytesOut)"
        logger.info("session closed", metadata: metadata)
    }

    private static func metadata(_ info: SessionInfo) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["session": "\(info.id)", "role": "\(info.role.rawValue)", "remote": "\(info.remoteAddress ?? "?")"]
        if let listener = info.listener { metadata["listener"] = "\(listener)" }
        if let name = info.name { metadata["name"] = "\(name)" }
        return metadata
    }

    // MARK: Shutdown

    /// Stops every listener and closes every session; new requests are refused from here on.
    public func shutdown() async {
        let (listeners, sessions) = state.withLock { s in
            s.shuttingDown = true
            let listeners = Array(s.listeners.values)
            s.listeners.removeAll()
            return (listeners, Array(s.open.values))
        }
        for listener in listeners { await stop(listener, closeSessions: false) }
        await withTaskGroup(of: Void.self) { group in
            for session in sessions { group.addTask { await self.close(session, reset: false) } }
        }
        logger.info("all listeners stopped and sessions closed", metadata: ["sessions": "\(sessions.count)"])
    }

    // MARK: Errors

    private static func noListener(_ name: String) -> SwitchboardError {
        SwitchboardError(.notFound, "no listener named '\(name)'")
    }

    private static func bindError(_ error: any Error, address: Endpoint) -> SwitchboardError {
        if let io = error as? IOError {
            switch io.errnoCode {
            case EADDRINUSE: return SwitchboardError(.addressInUse, "address \(address) is in use")
            case EACCES: return SwitchboardError(.invalidArgument, "no permission to bind \(address)")
            case EADDRNOTAVAIL: return SwitchboardError(.invalidArgument, "address \(address) is not on this machine")
            case ENOENT, ENOTDIR: return SwitchboardError(.invalidArgument, "the folder of \(address) does not exist")
            default: break
            }
        }
        if error is SocketAddressError {
            return SwitchboardError(.invalidArgument, "cannot resolve \(address)")
        }
        return SwitchboardError(.invalidArgument, "cannot bind \(address): \(error)")
    }

    private static func connectError(_ error: any Error, endpoint: Endpoint, timeout: Duration) -> SwitchboardError {
        var errors: [any Error] = [error]
        if let connection = error as? NIOConnectionError {
            if connection.dnsAError != nil || connection.dnsAAAAError != nil, connection.connectionErrors.isEmpty {
                return SwitchboardError(.connectRefused, "cannot resolve \(endpoint)")
            }
            errors = connection.connectionErrors.map(\.error)
        }
        for error in errors {
            if case ChannelError.connectTimeout = error {
                return SwitchboardError(.connectTimeout, "connecting to \(endpoint) timed out after \(timeout)")
            }
        }
        for error in errors {
            if let io = error as? IOError {
                switch io.errnoCode {
                case ECONNREFUSED: return SwitchboardError(.connectRefused, "\(endpoint) refused the connection")
                case ENOENT: return SwitchboardError(.connectRefused, "\(endpoint) does not exist")
                case ETIMEDOUT: return SwitchboardError(.connectTimeout, "connecting to \(endpoint) timed out")
                default: return SwitchboardError(.connectRefused, "cannot connect to \(endpoint): \(io.description)")
                }
            }
        }
        return SwitchboardError(.connectRefused, "cannot connect to \(endpoint): \(error)")
    }
}
