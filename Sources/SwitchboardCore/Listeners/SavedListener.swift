import Foundation

/// A listener as the store read it back at start-up. `problem` says what in the stored row
/// this service cannot understand (an unknown mode, an address it cannot parse): such a
/// listener is restored as `failed` with that error, never bound with a value made up for it.
public struct SavedListener: Sendable {
    public var spec: ListenerSpec
    public var createdAt: Date
    public var problem: String?

    public init(spec: ListenerSpec, createdAt: Date, problem: String? = nil) {
        self.spec = spec
        self.createdAt = createdAt
        self.problem = problem
    }
}
