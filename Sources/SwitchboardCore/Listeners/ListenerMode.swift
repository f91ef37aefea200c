import NIOCore

/// What a listener does with each connection it accepts.
public enum ListenerMode: Sendable, Equatable {
    /// Writes back every byte it receives.
    case echo
    /// Answers each chunk it receives with `reply`; closes after the first answer if asked.
    case reply(ByteBuffer, closeAfterReply: Bool)
    /// Keeps the connection for an operator to read and write through the API.
    case hold
    /// Connects each accepted connection to `to` and relays bytes both ways. When the upstream
    /// cannot be reached the accepted connection is closed, or reset with `resetOnFailure`.
    case forward(to: Endpoint, resetOnFailure: Bool)

    public var name: String {
        switch self {
        case .echo: "echo"
        case .reply: "reply"
        case .hold: "hold"
        case .forward: "forward"
        }
    }

    var behaviour: SessionBehaviour {
        switch self {
        case .echo: .echo
        case .reply(let reply, let close): .reply(reply, closeAfterReply: close)
        case .hold: .hold
        case .forward: .forward
        }
    }
}
