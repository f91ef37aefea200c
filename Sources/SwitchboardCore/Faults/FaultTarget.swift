/// What a fault is aimed at.
public enum FaultTarget: Sendable, Equatable, CustomStringConvertible {
    /// Every connection the listener has and will accept.
    case listener(String)
    /// Every connection the named reconnecting session makes.
    case reconnecting(String)
    /// One live session, that connection only.
    case session(SessionID)

    public var description: String {
        switch self {
        case .listener(let name): "listener '\(name)'"
        case .reconnecting(let name): "session '\(name)'"
        case .session(let id): "session \(id)"
        }
    }
}
