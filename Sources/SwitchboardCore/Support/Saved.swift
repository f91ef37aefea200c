import Foundation

/// What the store read back at start-up: a listener's or a reconnecting session's spec, when
/// it was created, and `problem`, what in the stored row this build cannot understand (an
/// address it cannot parse). Such an entry comes back failed (a listener) or stopped (a
/// reconnecting session) with that reason, never bound or retried with a value made up for it.
public struct Saved<Spec: Sendable>: Sendable {
    public var spec: Spec
    public var createdAt: Date
    public var problem: String?

    public init(spec: Spec, createdAt: Date, problem: String? = nil) {
        self.spec = spec
        self.createdAt = createdAt
        self.problem = problem
    }
}

public typealias SavedListener = Saved<ListenerSpec>
public typealias SavedReconnecting = Saved<ConnectSpec>
