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
    public var options: ConnectionOptions
    /// Set for a named session the service keeps connected, retrying with backoff.
    public var reconnect: ReconnectPolicy?

    public static let defaultConnectTimeout = Duration.seconds(10)

    public init(
        endpoint: Endpoint, name: String? = nil, send: ByteBuffer? = nil, connectTimeout: Duration = defaultConnectTimeout,
        capture: Bool = false, options: ConnectionOptions = .init(), reconnect: ReconnectPolicy? = nil
    ) {
        self.endpoint = endpoint
        self.name = name
        self.send = send
        self.connectTimeout = connectTimeout
        self.capture = capture
        self.options = options
        self.reconnect = reconnect
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

/// Holds what an outbound connection reads before its session handler is in place, and hands
/// it on when it is removed.
final class EarlyInbound: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    private var held: [NIOAny] = []

    /// Where the connect's caller finds the handler again; touched only on the channel's loop.
    final class Holder: @unchecked Sendable {
        var handler: EarlyInbound?
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        held.append(data)
    }

    func takeHeld() -> [ByteBuffer] {
        defer { held = [] }
        return held.map { unwrapInboundIn($0) }
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        let held = self.held
        self.held = []
        for data in held { context.fireChannelRead(data) }
        if !held.isEmpty { context.fireChannelReadComplete() }
        context.leavePipeline(removalToken: removalToken)
    }
}

/// Lets one task wait for the first of many signals.
private final class FirstResult: Sendable {
    private let state = Mutex<(done: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func resume() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.done else { return nil }
            s.done = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> Bool in
                if s.done { return true }
                s.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
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
        var reconnectors: [String: Reconnector] = [:]
        var closed = CircularBuffer<Closed>()
        var closedIndex: [SessionID: Session] = [:]
        var closedBytes = 0
        var totalSessions: UInt64 = 0
        var shuttingDown = false
    }
    private let state = Mutex(State())
    /// Per repeating log line (a listener's failed upstream, a session reconnecting): when it
    /// was last logged at info, and how many were not logged since. Its own lock: this is log
    /// bookkeeping, not the sessions' state that every accept and close takes.
    private let quietLogs = Mutex<[String: (at: ContinuousClock.Instant, quiet: Int)]>([:])
    let dataReporter: DataReporter
    private let forwardLoops = ForwardLoopGuard()
    /// Open sessions plus connections being set up; each holds a file descriptor.
    private let liveSessions = Atomic<Int>(0)
    /// `State.shuttingDown`, readable on the accept path without the lock.
    private let stopping = Atomic<Bool>(false)
    /// What the core refuses past, service-wide.
    public struct Limits: Sendable {
        /// Open sessions (--max-sessions): each holds a file descriptor.
        public var maxSessions: Int
        public var maxListeners: Int
        /// Long-polls waiting on one session's messages at once.
        public var maxLongPollsPerSession: Int
        /// Bytes operators' sends may have waiting for one session's socket to take them; a send
        /// past it is refused (one send alone is always taken: the body limit bounds it).
        public var maxUnsentBytesPerSession: Int

        public static let defaultMaxUnsentBytesPerSession = 4 << 20

        public init(
            maxSessions: Int = .max, maxListeners: Int = 1000, maxLongPollsPerSession: Int = 16,
            maxUnsentBytesPerSession: Int = defaultMaxUnsentBytesPerSession
        ) {
            self.maxSessions = maxSessions
            self.maxListeners = maxListeners
            self.maxLongPollsPerSession = maxLongPollsPerSession
            self.maxUnsentBytesPerSession = maxUnsentBytesPerSession
        }
    }
    public let limits: Limits
    public var maxSessions: Int { limits.maxSessions }
    /// Which addresses outbound connections may go to (--allow-connect, --deny-connect).
    public let outboundPolicy: OutboundPolicy

    /// Whether observers get `sessionData` calls; off unless somebody listens (live events), as
    /// it costs a call per read on every session.
    public var reportsData: Bool {
        get { dataReporter.enabled }
        set { dataReporter.enabled = newValue }
    }

    static let sessionReceiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 64 * 1024)

    /// Bytes captured per session before capture stops (and records that it was cut short).
    public static let defaultCaptureLimit = 1 << 20

    public init(
        group: any EventLoopGroup, logger: Logger, observers: [any SwitchboardObserver] = [],
        store: (any ListenerStore)? = nil, captureLimit: Int = defaultCaptureLimit,
        retention: ClosedSessionRetention = .init(), limits: Limits = .init(), outboundPolicy: OutboundPolicy = .allowAll
    ) {
        self.limits = limits
        self.outboundPolicy = outboundPolicy
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
        // Checked again for every accepted connection: a name may resolve differently later.
        if case .forward(let upstream, _) = spec.mode { try await checkOutbound(upstream) }
        try reserveListenerName(spec.name)
        let createdAt = Date()
        let listener: Listener
        do {
            listener = try await bind(spec, createdAt: createdAt)
            try await refuseForwardingToItself(listener)
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
                try await refuseForwardingToItself(listener)
                _ = publish(listener)
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

    private static func validate(_ spec: ListenerSpec) throws(SwitchboardError) {
        try ListenerSpec.validateName(spec.name)
        if let max = spec.maxSessions, max < 1 {
            throw SwitchboardError(.invalidArgument, "max_sessions must be at least 1")
        }
    }

    /// Known only once bound (port 0 picks the port): a forward listener whose upstream is its
    /// own socket would connect every connection to itself again, without end.
    private func refuseForwardingToItself(_ listener: Listener) async throws(SwitchboardError) {
        guard case .forward(let upstream, _) = listener.spec.mode,
              ForwardLoopGuard.isOwnAddress(upstream, bound: listener.channel?.localAddress) else { return }
        await stop(listener, closeSessions: true)
        throw SwitchboardError(
            .invalidArgument,
            "forward_to \(upstream) is this listener's own address (\(listener.info.address)): every connection would connect to itself again"
        )
    }

    private func reserveListenerName(_ name: String) throws(SwitchboardError) {
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

    private func bind(_ spec: ListenerSpec, createdAt: Date) async throws(SwitchboardError) -> Listener {
        let listener = Listener(spec: spec, createdAt: createdAt)
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(spec.options.backlog ?? ConnectionOptions.defaultBacklog))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                self.accepted(channel, by: listener)
            }
        if case .forward = spec.mode {
            bootstrap = bootstrap
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelOption(ChannelOptions.recvAllocator, value: RelayReceiveAllocator())
                .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 1)
        } else {
            // NIO keeps each channel's receive buffer for reuse; starting it at 512 bytes rather
            // than 2 KiB is most of what an idle session costs less. It still grows with traffic.
            bootstrap = bootstrap.childChannelOption(ChannelOptions.recvAllocator, value: Self.sessionReceiveAllocator)
        }
        if case .hold = spec.mode {
            // A client that sends its request and shuts its write side (HTTP/1.0, `nc -N`) still
            // waits for the operator's answer: its FIN must not end the session.
            bootstrap = bootstrap.childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
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

    /// Takes a session slot under the service-wide limit; false when none is left.
    private func reserveSessionSlot() -> Bool {
        if liveSessions.wrappingAdd(1, ordering: .relaxed).newValue > maxSessions {
            liveSessions.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    private func releaseSessionSlot() {
        liveSessions.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Runs on the new channel's event loop, before any of its data is read.
    private func accepted(_ channel: any Channel, by listener: Listener) -> EventLoopFuture<Void> {
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
        switch listener.admit(session) {
        case .admitted:
            break
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
        do {
            try spec.options.apply(to: channel)
            try spec.options.addIdleHandler(to: channel)
            if case .forward(let upstream, let resetOnFailure) = spec.mode {
                let relay = RelayHandler(session: session, reporter: dataReporter, onClose: onClose)
                try channel.pipeline.syncOperations.addHandler(relay)
                didOpen(session)
                connectUpstream(for: relay, to: upstream, listener: listener, resetOnFailure: resetOnFailure, hops: hops)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            try channel.pipeline.syncOperations.addHandler(SessionHandler(session: session, reporter: dataReporter, onClose: onClose))
        } catch {
            listener.sessionClosed(session)
            releaseSessionSlot()
            return channel.eventLoop.makeFailedFuture(error)
        }
        didOpen(session)
        return channel.eventLoop.makeSucceededVoidFuture()
    }

    /// Lines that can repeat for every connection or attempt (a down upstream fails each
    /// connection; a session whose connections end at once reconnects again and again): one
    /// line a key every 10 s at info, with how many were not logged, the rest at debug, so the
    /// journal is not flooded (journald drops lines past its rate limit). Each occurrence is
    /// still an event and a metric.
    private func logRepeating(_ message: Logger.Message, key: String, metadata: @autoclosure () -> Logger.Metadata) {
        let now = ContinuousClock.now
        let quiet = quietLogs.withLock { logs -> Int? in
            if let last = logs[key], now - last.at < .seconds(10) {
                logs[key]!.quiet += 1
                return nil
            }
            let quiet = logs[key]?.quiet ?? 0
            // Bounded: past 1,024 keys the stale ones go, and if all are fresh, all go (at
            // worst a few more lines at info), so this is not a scan on every call.
            if logs.count >= 1024 {
                logs = logs.filter { now - $0.value.at < .seconds(10) }
                if logs.count >= 1024 { logs.removeAll() }
            }
            logs[key] = (now, 0)
            return quiet
        }
        guard let quiet else {
            logger.debug(message, metadata: metadata())
            return
        }
        var metadata = metadata()
        if quiet > 0 { metadata["not_logged_since"] = "\(quiet)" }
        logger.info(message, metadata: metadata)
    }

    /// Opens the upstream half of a forwarded connection on the accepted channel's own event
    /// loop, so the two halves never hop between threads. Until it is connected the accepted
    /// half does not read: what the client sends (its FIN too) waits in the kernel, not lost.
    private func connectUpstream(for downstream: RelayHandler, to endpoint: Endpoint, listener: Listener, resetOnFailure: Bool, hops: Int) {
        let spec = listener.spec
        let accepted = downstream.session
        let loop = accepted.eventLoop
        guard reserveSessionSlot() else {
            let error = SwitchboardError(.limitReached, "the service's session limit (\(maxSessions)) is reached; the upstream was not connected")
            observers.forEach { $0.connectFailed(listener: spec.name, name: nil, error: error) }
            downstream.fail(.error(error.message), reset: resetOnFailure)
            return
        }
        let timeout = spec.options.connectTimeout ?? ConnectSpec.defaultConnectTimeout
        // The outbound policy is checked for each connection, on the address connected to.
        let forwardLoops = self.forwardLoops
        let future = connectChecked(endpoint, timeout: timeout, on: loop) { timeLeft in
            ClientBootstrap(group: loop)
                .connectTimeout(timeLeft)
                // Nothing is read until the relay handler is in place.
                .channelOption(ChannelOptions.autoRead, value: false)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .channelOption(ChannelOptions.recvAllocator, value: RelayReceiveAllocator())
                .channelOption(ChannelOptions.maxMessagesPerRead, value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ForwardLoopGuard.Marker(forwardLoops, hops: hops + 1))
                    }
                }
        }
        future.hop(to: loop).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure(let error):
                releaseSessionSlot()
                let failure = Self.connectError(error, endpoint: endpoint, timeout: timeout)
                logRepeating("upstream connection failed", key: "upstream \(spec.name)",
                             metadata: ["listener": "\(spec.name)", "session": "\(accepted.id)", "error": "\(failure.message)"])
                observers.forEach { $0.connectFailed(listener: spec.name, name: nil, error: failure) }
                downstream.fail(.error("upstream: \(failure.message)"), reset: resetOnFailure)
            case .success(let channel):
                let hops = max(hops, forwardLoops.hops(from: accepted.remoteAddress))
                guard hops < ForwardLoopGuard.maxHops else {
                    releaseSessionSlot()
                    channel.close(promise: nil)
                    listener.countRejected()
                    logRepeating("connection refused: forwarding loop", key: "loop \(spec.name)",
                                 metadata: ["listener": "\(spec.name)", "hops": "\(hops)"])
                    observers.forEach { $0.connectionRejected(listener: spec.name, reason: .forwardLoop) }
                    downstream.fail(.error("forwarding loop: the connection came through this service's own forward listeners \(hops) times"), reset: resetOnFailure)
                    return
                }
                let upstream = Session(
                    id: .make(), role: .client, listener: spec.name, name: nil, channel: channel,
                    behaviour: .relay, capture: nil, openedAt: Date()
                )
                let relay = RelayHandler(session: upstream, reporter: dataReporter) { [self] in self.didClose($0) }
                do {
                    try spec.options.apply(to: channel)
                    try spec.options.addIdleHandler(to: channel)
                    try channel.pipeline.syncOperations.addHandler(relay)
                } catch {
                    releaseSessionSlot()
                    channel.close(promise: nil)
                    downstream.fail(.error("upstream: could not set up the connection: \(error)"), reset: resetOnFailure)
                    return
                }
                upstream.partnerID = accepted.id
                // Known more hops now than at the accept: the marker's count is raised.
                forwardLoops.opened(upstreamFrom: upstream.localAddress, hops: hops + 1)
                didOpen(upstream)
                RelayHandler.join(downstream, relay)
                // A loopback connect can complete before the accepted channel is even active, so
                // ask the handler whether the client has left, not the channel.
                if downstream.ended {
                    // The client left while the upstream was connecting.
                    relay.closeForPartner(reset: false)
                }
                try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            }
        }
    }

    // MARK: Outbound sessions

    public func connect(_ spec: ConnectSpec) async throws(SwitchboardError) -> SessionInfo {
        if let name = spec.name {
            try ListenerSpec.validateName(name)
        }
        try spec.options.validate()
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

    /// Connects, and makes the connection a session; the caller owns the name.
    func openOutbound(_ spec: ConnectSpec) async throws(SwitchboardError) -> Session {
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
                    .channelOption(ChannelOptions.autoRead, value: false)
                    .channelOption(ChannelOptions.recvAllocator, value: Self.sessionReceiveAllocator)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
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
            id: .make(), role: .client, listener: nil, name: spec.name, channel: channel, behaviour: .interactive,
            capture: spec.capture ? captureSettings : nil, openedAt: Date()
        )
        do {
            try await channel.eventLoop.submit { [self] in
                // A server that greets and hangs up at once may have closed the channel by now:
                // the session still opened, and is recorded with what it received.
                var attached = true
                do {
                    try spec.options.apply(to: channel)
                    try spec.options.addIdleHandler(to: channel)
                    try channel.pipeline.syncOperations.addHandler(SessionHandler(session: session, reporter: dataReporter) { [self] in self.didClose($0) })
                } catch {
                    if channel.isActive { throw error }
                    attached = false
                }
                didOpen(session)
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
            _ = try? await session.send(data, unsentLimit: limits.maxUnsentBytesPerSession)
        }
        try? await channel.setOption(ChannelOptions.autoRead, value: true).get()
        return session
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

    private func close(_ session: Session, reset: Bool) async {
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

    private func find(_ id: SessionID) throws(SwitchboardError) -> Session {
        guard let session = state.withLock({ $0.open[id] ?? $0.closedIndex[id] }) else {
            throw SwitchboardError(.notFound, "no session with id '\(id)'")
        }
        return session
    }

    /// Runs on the session's event loop, as its close does, so the two cannot interleave.
    private func didOpen(_ session: Session) {
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

    private func didClose(_ session: Session) {
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

    private static func metadata(_ info: SessionInfo) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["session": "\(info.id)", "role": "\(info.role.rawValue)", "remote": "\(info.remoteAddress ?? "?")"]
        if let listener = info.listener { metadata["listener"] = "\(listener)" }
        if let name = info.name { metadata["name"] = "\(name)" }
        return metadata
    }

    // MARK: Reconnecting sessions

    /// Starts keeping a named session connected; answers once the first attempt has succeeded
    /// or failed (a failed one is retried; the status says when).
    public func startReconnecting(_ spec: ConnectSpec) async throws(SwitchboardError) -> ReconnectStatus {
        guard let name = spec.name else { throw SwitchboardError(.invalidArgument, "a reconnecting session needs a name") }
        try ListenerSpec.validateName(name)
        try spec.options.validate()
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
    public func restoreReconnecting(_ saved: [(spec: ConnectSpec, createdAt: Date)]) async -> Int {
        var restored = 0
        for (spec, createdAt) in saved {
            guard let name = spec.name else { continue }
            let taken = state.withLock { s in s.reconnectors[name] != nil || s.openNames[name] != nil || s.shuttingDown }
            guard !taken else { continue }
            _ = await launch(Reconnector(spec: spec, name: name, createdAt: createdAt), awaitFirstAttempt: false)
            restored += 1
        }
        return restored
    }

    private func launch(_ reconnector: Reconnector, awaitFirstAttempt: Bool) async -> ReconnectStatus {
        state.withLock { $0.reconnectors[reconnector.name] = reconnector }
        let firstResult = FirstResult()
        reconnector.start(open: { [self] spec throws(SwitchboardError) in
            try await self.openOutbound(spec)
        }, report: { [self] status in
            if status.state == .waiting {
                logRepeating("reconnecting session waiting", key: "reconnect \(status.name)",
                             metadata: ["name": "\(status.name)", "error": "\(status.lastError ?? "")", "failures": "\(status.failures)"])
            }
            observers.forEach { $0.sessionReconnecting(status) }
            if status.state != .connecting { firstResult.resume() }
        }, finished: {
            firstResult.resume()
        })
        if awaitFirstAttempt { await firstResult.wait() }
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
    private func halt(_ reconnector: Reconnector, wait: Duration = .zero) async {
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

    // MARK: Shutdown

    /// Stops every listener and closes every session; new requests are refused from here on.
    public func shutdown() async {
        stopping.store(true, ordering: .relaxed)
        let (listeners, reconnectors) = state.withLock { s in
            s.shuttingDown = true
            let listeners = Array(s.listeners.values)
            s.listeners.removeAll()
            let reconnectors = Array(s.reconnectors.values)
            s.reconnectors.removeAll()
            return (listeners, reconnectors)
        }
        // Stopped, not forgotten: they are still stored and come back at the next start.
        await withTaskGroup(of: Void.self) { group in
            for reconnector in reconnectors { group.addTask { await self.halt(reconnector, wait: .seconds(2)) } }
        }
        // Listeners first: a connection accepted meanwhile is then in the list below (or was
        // refused by `accepted`, which checks `shuttingDown`).
        for listener in listeners { await stop(listener, closeSessions: false) }
        let sessions = state.withLock { Array($0.open.values) }
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
            case EACCES: return SwitchboardError(.forbidden, "no permission to bind \(address)")
            case EADDRNOTAVAIL: return SwitchboardError(.addressUnavailable, "address \(address) is not on this machine")
            case ENOENT, ENOTDIR: return SwitchboardError(.addressUnavailable, "the folder of \(address) does not exist")
            default: break
            }
        }
        // A well-formed address the machine cannot bind is not a malformed request (400): the
        // same body may work elsewhere, so it is a conflict with this machine (409).
        if error is SocketAddressError {
            return SwitchboardError(.addressUnavailable, "cannot resolve \(address)")
        }
        return SwitchboardError(.addressUnavailable, "cannot bind \(address): \(error)")
    }

    private static func connectError(_ error: any Error, endpoint: Endpoint, timeout: Duration) -> SwitchboardError {
        // The outbound policy's refusal, or a name that did not resolve: already in words.
        if let error = error as? SwitchboardError { return error }
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
