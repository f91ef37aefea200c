import Foundation

/// A reconnecting session as the store read it back at start-up; with a `problem` (an address
/// it cannot parse) it is listed `stopped` with that error instead of being dropped or retried
/// against a made-up address. Deleting it removes it from the store.
public struct SavedReconnecting: Sendable {
    public var spec: ConnectSpec
    public var createdAt: Date
    public var problem: String?

    public init(spec: ConnectSpec, createdAt: Date, problem: String? = nil) {
        self.spec = spec
        self.createdAt = createdAt
        self.problem = problem
    }
}
