import Foundation

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
