import Foundation

/// Receives what happens in the core: the seam for the log, the history store, live events
/// and metrics.
///
/// Calls come from event loops (session events) or API tasks (listener events), so an
/// observer must return quickly and never block: hand the work to a queue of its own.
public protocol SwitchboardObserver: Sendable {
    func listenerCreated(_ listener: ListenerInfo)
    func listenerDeleted(_ listener: ListenerInfo)
    /// A listener that could not be bound (restored at start-up) or stopped accepting on an error.
    func listenerFailed(_ listener: ListenerInfo)
    func sessionOpened(_ session: SessionInfo)
    func sessionClosed(_ session: SessionInfo)
    /// Bytes of a session with capture on, called from its event loop for every chunk.
    func sessionCaptured(_ chunk: CapturedChunk)
    /// Bytes moved on a session. Called only while `Switchboard.reportsData` is on, from the
    /// session's event loop, once per read or write: keep it cheap.
    func sessionData(_ event: SessionDataEvent)
    /// A named reconnecting session changed state: connected, waiting for its next attempt, stopped.
    func sessionReconnecting(_ status: ReconnectStatus)
    /// A connection a listener accepted and turned away at once (max_sessions, the service's
    /// session limit); no session is made for it.
    func connectionRejected(listener: String, reason: RejectReason)
    /// An outbound connection that could not be made: an operator's session, a reconnect
    /// attempt, or the upstream half of a forwarded connection (then `listener` is set).
    func connectFailed(listener: String?, name: String?, error: SwitchboardError)
}

/// Why an accepted connection was turned away.
public enum RejectReason: String, Sendable, CaseIterable {
    /// The listener's max_sessions was reached.
    case listenerLimit = "listener_limit"
    /// The service-wide --max-sessions was reached.
    case serviceLimit = "service_limit"
    /// The connection came from the service's own forward listeners more times in a row than
    /// a chain of forwards may (a forwarding loop).
    case forwardLoop = "forward_loop"
}

/// Bytes that moved on one session, for live events.
public struct SessionDataEvent: Sendable {
    public let sessionID: SessionID
    public let listener: String?
    public let direction: Message.Direction
    public let bytes: Int
    public let at: Date
    public init(sessionID: SessionID, listener: String?, direction: Message.Direction, bytes: Int, at: Date) {
        self.sessionID = sessionID
        self.listener = listener
        self.direction = direction
        self.bytes = bytes
        self.at = at
    }
}

/// Where a named reconnecting session stands.
public struct ReconnectStatus: Sendable {
    public enum State: String, Sendable, CaseIterable {
        /// An attempt to connect is under way.
        case connecting
        /// Connected: `sessionID` is the current session.
        case connected
        /// The last attempt failed or the connection dropped; the next attempt is at `nextAttemptAt`.
        case waiting
        /// Deleted by an operator or stopped by shutdown; no more attempts.
        case stopped
    }
    public let name: String
    public let endpoint: String
    public let state: State
    /// The current session while connected, else the latest one (nil before the first connect).
    public let sessionID: SessionID?
    /// Failed attempts since the last successful connect.
    public let failures: Int
    public let nextAttemptAt: Date?
    public let lastError: String?

    public init(name: String, endpoint: String, state: State, sessionID: SessionID?, failures: Int, nextAttemptAt: Date?, lastError: String?) {
        self.name = name
        self.endpoint = endpoint
        self.state = state
        self.sessionID = sessionID
        self.failures = failures
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
    }
}

/// Keeps the listeners an operator created, so they come back after a restart.
///
/// Unlike observers these calls are awaited: the API answers only once the change is stored.
public protocol ListenerStore: Sendable {
    func saveListener(_ spec: ListenerSpec, createdAt: Date) async throws
    func deleteListener(named name: String) async throws
    /// Named reconnecting sessions come back after a restart like listeners do.
    func saveReconnecting(_ spec: ConnectSpec, createdAt: Date) async throws
    func deleteReconnecting(named name: String) async throws
}

extension SwitchboardObserver {
    public func listenerCreated(_ listener: ListenerInfo) {}
    public func listenerDeleted(_ listener: ListenerInfo) {}
    public func listenerFailed(_ listener: ListenerInfo) {}
    public func sessionOpened(_ session: SessionInfo) {}
    public func sessionClosed(_ session: SessionInfo) {}
    public func sessionCaptured(_ chunk: CapturedChunk) {}
    public func sessionData(_ event: SessionDataEvent) {}
    public func sessionReconnecting(_ status: ReconnectStatus) {}
    public func connectionRejected(listener: String, reason: RejectReason) {}
    public func connectFailed(listener: String?, name: String?, error: SwitchboardError) {}
}
