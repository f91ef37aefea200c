import Foundation

/// Receives what happens in the core: the seam for the log, the history store and live events.
///
/// Calls come from event loops (session events) or API tasks (listener events), so an
/// observer must return quickly and never block: hand the work to a queue of its own.
public protocol SwitchboardObserver: Sendable {
    func listenerCreated(_ listener: ListenerInfo)
    func listenerDeleted(_ listener: ListenerInfo)
    func sessionOpened(_ session: SessionInfo)
    func sessionClosed(_ session: SessionInfo)
    /// Bytes of a session with capture on, called from its event loop for every chunk.
    func sessionCaptured(_ chunk: CapturedChunk)
}

/// Keeps the listeners an operator created, so they come back after a restart.
///
/// Unlike observers these calls are awaited: the API answers only once the change is stored.
public protocol ListenerStore: Sendable {
    func saveListener(_ spec: ListenerSpec, createdAt: Date) async throws
    func deleteListener(named name: String) async throws
}

extension SwitchboardObserver {
    public func listenerCreated(_ listener: ListenerInfo) {}
    public func listenerDeleted(_ listener: ListenerInfo) {}
    public func sessionOpened(_ session: SessionInfo) {}
    public func sessionClosed(_ session: SessionInfo) {}
    public func sessionCaptured(_ chunk: CapturedChunk) {}
}
