#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Why a session ended, in the words the API and history use.
public enum CloseReason: Sendable, Hashable, CustomStringConvertible {
    /// We closed it: an operator, a reply-and-close listener, or shutdown.
    case local
    /// The peer closed its end in order (FIN).
    case peer
    /// The peer reset the connection (RST).
    case reset
    /// Nothing moved for the session's idle_timeout_ms.
    case idle
    /// The other half of a forwarded pair ended, so this half was closed too.
    case partner
    /// A fault closed or reset it (`limit_data`, `timeout`, `reset_peer`).
    case fault(String)
    case error(String)

    public var description: String {
        switch self {
        case .local: "local"
        case .peer: "peer"
        case .reset: "reset"
        case .idle: "idle"
        case .partner: "partner"
        case .fault(let type): "fault: \(type)"
        case .error(let text): "error: \(text)"
        }
    }
}

extension CloseReason {
    /// The reason an error ends a connection with: a reset (RST, or a write into one) is `reset`.
    init(_ error: any Error) {
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNRESET, EPIPE: self = .reset
            case ETIMEDOUT: self = .error("timed out")
            default: self = .error(io.description)
            }
            return
        }
        self = .error("\(error)")
    }
}
