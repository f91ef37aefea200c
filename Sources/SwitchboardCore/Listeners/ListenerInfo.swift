import Foundation

public struct ListenerInfo: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        case listening
        case stopped
        /// Kept, with its faults, but not bound until it is enabled again.
        case disabled
        /// Restored at start-up but its address could not be bound.
        case failed
    }
    public let name: String
    public let mode: ListenerMode
    /// The address the kernel bound, with the real port when 0 was asked for.
    public let address: String
    public let requestedAddress: Endpoint
    public let maxSessions: Int?
    public let createdAt: Date
    public let openSessions: Int
    public let totalSessions: UInt64
    public let rejectedSessions: UInt64
    public let bytesIn: UInt64
    public let bytesOut: UInt64
    public let state: State
    public let capture: Bool
    public let options: ConnectionOptions
    /// Why a restored listener could not be bound.
    public let error: String?
    /// Applied to every connection it has and accepts.
    public let faults: [Fault]

    static func failed(_ spec: ListenerSpec, createdAt: Date, error: String) -> ListenerInfo {
        ListenerInfo(
            name: spec.name, mode: spec.mode, address: spec.address.description, requestedAddress: spec.address,
            maxSessions: spec.maxSessions, createdAt: createdAt, openSessions: 0, totalSessions: 0,
            rejectedSessions: 0, bytesIn: 0, bytesOut: 0, state: .failed, capture: spec.capture, options: spec.options, error: error, faults: spec.faults
        )
    }
}
