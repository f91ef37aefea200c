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
    /// A fault was added to, changed on or removed from its target (called from API tasks).
    func faultAdded(_ fault: Fault, on target: FaultTarget)
    func faultChanged(_ fault: Fault, on target: FaultTarget)
    func faultRemoved(_ fault: Fault, from target: FaultTarget)
    /// A fault met a session and its draw said it applies; from the session's event loop.
    func faultApplied(_ fault: SessionFault, session: SessionID, listener: String?, name: String?)
    /// What fault stages did to bytes: held back for a while, dropped, or corrupted. From event
    /// loops, once per chunk a fault touched (never for a session without faults).
    func faultBytes(_ type: FaultType, delayed: Int, dropped: Int, corrupted: Int)
}
