import Foundation
import NIOCore

/// A piece of a session's conversation, recorded when capture is on.
public struct CapturedChunk: Sendable {
    public let sessionID: SessionID
    /// Numbered per session from 1, in the order the bytes moved.
    public let seq: UInt64
    public let direction: Message.Direction
    public let at: Date
    public let data: ByteBuffer
}

/// Where captured bytes go, and how many of them per session.
public struct CaptureSettings: Sendable {
    public var limit: Int
    public var sink: @Sendable (CapturedChunk) -> Void
    public init(limit: Int, sink: @escaping @Sendable (CapturedChunk) -> Void) {
        self.limit = limit
        self.sink = sink
    }
}
