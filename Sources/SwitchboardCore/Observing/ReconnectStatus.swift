import Foundation

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
    /// Applied to every connection it makes.
    public let faults: [Fault]

    public init(name: String, endpoint: String, state: State, sessionID: SessionID?, failures: Int, nextAttemptAt: Date?, lastError: String?, faults: [Fault] = []) {
        self.faults = faults
        self.name = name
        self.endpoint = endpoint
        self.state = state
        self.sessionID = sessionID
        self.failures = failures
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
    }
}
