/// Everything the core refuses, with the words an operator needs to fix the request.
public struct SwitchboardError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case invalidArgument
        case notFound
        case nameTaken
        case addressInUse
        /// A well-formed address that cannot be bound here: not on this machine, not resolvable,
        /// or a unix socket in a folder that does not exist.
        case addressUnavailable
        case sessionClosed
        case connectRefused
        case connectTimeout
        case shuttingDown
        /// The history store could not take a change that must be durable.
        case storageUnavailable
        /// A service-wide limit (sessions, clients) is reached; try again later.
        case limitReached
        /// Outbound policy refuses the address.
        case forbidden
        /// A session already has as many bytes waiting for its peer to take as it may hold.
        case sendQueueFull
    }

    public let kind: Kind
    public let message: String
    public var description: String { message }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    static func sessionClosed(_ id: SessionID) -> SwitchboardError {
        SwitchboardError(.sessionClosed, "session \(id) is closed")
    }
}
