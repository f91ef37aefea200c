import Foundation

/// A fault that met a session: whether its chance said it applies, and when. A session's list
/// of these goes into the history, so a test can ask which connections a fault hit.
public struct SessionFault: Sendable, Equatable {
    public let name: String
    public let type: FaultType
    public let direction: FaultDirection
    /// False when the toxicity draw said the fault passes this connection by.
    public let applied: Bool
    public let at: Date

    public init(name: String, type: FaultType, direction: FaultDirection, applied: Bool, at: Date) {
        self.name = name
        self.type = type
        self.direction = direction
        self.applied = applied
        self.at = at
    }
}
