#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

public struct SwitchboardCounts: Sendable {
    public let listeners: Int
    public let openSessions: Int
    public let totalSessions: UInt64
}

/// The socket core: every listener and session of the process, on one event loop group.
public final class Switchboard: Sendable {
    public let group: any EventLoopGroup
    let logger: Logger
    let observers: [any SwitchboardObserver]
    let retention: ClosedSessionRetention
    let store: (any ListenerStore)?
    let captureSettings: CaptureSettings

    struct Closed {
        let session: Session
        let bytes: Int
        let at: ContinuousClock.Instant
    }

    struct State {
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
    let state = Mutex(State())
    /// Per repeating log line (a listener's failed upstream, a session reconnecting): when it
    /// was last logged at info, and how many were not logged since. Its own lock: this is log
    /// bookkeeping, not the sessions' state that every accept and close takes.
    let quietLogs = Mutex<[String: (at: ContinuousClock.Instant, quiet: Int)]>([:])
    let dataReporter: DataReporter
    let forwardLoops = ForwardLoopGuard()
    /// Changes to faults, one at a time.
    let faultEdits = SerialJobs()
    let faultReporter: FaultReporter
    /// Open sessions plus connections being set up; each holds a file descriptor.
    let liveSessions = Atomic<Int>(0)
    /// `State.shuttingDown`, readable on the accept path without the lock.
    let stopping = Atomic<Bool>(false)
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

    /// NIO keeps each channel's last receive buffer for its next read, so an idle session holds
    /// one of the size its reads reached; a session that only ever exchanged a line holds the
    /// initial size. Bigger reads grow it by doubling within a few reads.
    static let sessionReceiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 64 * 1024)

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
        self.faultReporter = FaultReporter(observers: observers)
        self.captureSettings = CaptureSettings(limit: captureLimit) { chunk in
            for observer in observers { observer.sessionCaptured(chunk) }
        }
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
}
