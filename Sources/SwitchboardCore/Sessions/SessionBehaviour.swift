import NIOCore

/// How a session treats what it receives.
enum SessionBehaviour: Sendable {
    case echo
    case reply(ByteBuffer, closeAfterReply: Bool)
    /// An operator reads and writes it through the API (hold listeners, outbound sessions).
    case hold
    /// One half of a forwarded pair: bytes are counted (and captured), not kept in memory.
    case forward
}
