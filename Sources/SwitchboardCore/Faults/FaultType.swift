/// What a fault does to the bytes (or the close, or the connect) passing it. The names, the
/// attributes and their units are Toxiproxy's, so that tests written for it move over; the last
/// three are switchboard's own.
public enum FaultType: String, Sendable, CaseIterable, Equatable {
    case latency
    case bandwidth
    case slowClose = "slow_close"
    case timeout
    case resetPeer = "reset_peer"
    case slicer
    case limitData = "limit_data"
    case blackhole
    case corrupt
    case connectDelay = "connect_delay"

    public var name: String { rawValue }

    /// One attribute: its name, the largest value taken, and whether it is a fraction (0.0-1.0)
    /// rather than a whole number.
    public struct Attribute: Sendable {
        public let name: String
        public let unit: String
        public let max: Double
        public let fraction: Bool
    }

    static let day = 86_400_000.0

    /// The attributes of this type, in the order they are shown.
    public var attributes: [Attribute] {
        switch self {
        case .latency: [.init(name: "latency", unit: "ms", max: Self.day, fraction: false),
                        .init(name: "jitter", unit: "ms", max: Self.day, fraction: false)]
        case .bandwidth: [.init(name: "rate", unit: "KB/s", max: 100_000_000, fraction: false)]
        case .slowClose: [.init(name: "delay", unit: "ms", max: Self.day, fraction: false)]
        case .timeout: [.init(name: "timeout", unit: "ms", max: Self.day, fraction: false)]
        case .resetPeer: [.init(name: "timeout", unit: "ms", max: Self.day, fraction: false)]
        case .slicer: [.init(name: "average_size", unit: "bytes", max: 1_073_741_824, fraction: false),
                       .init(name: "size_variation", unit: "bytes", max: 1_073_741_824, fraction: false),
                       .init(name: "delay", unit: "µs", max: Self.day * 1000, fraction: false)]
        case .limitData: [.init(name: "bytes", unit: "bytes", max: Double(1 << 50), fraction: false)]
        case .blackhole: []
        case .corrupt: [.init(name: "probability", unit: "per byte", max: 1, fraction: true),
                        .init(name: "count", unit: "bytes", max: Double(1 << 50), fraction: false)]
        case .connectDelay: [.init(name: "delay", unit: "ms", max: Self.day, fraction: false)]
        }
    }

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Which way the bytes a fault acts on flow. `upstream` is from the side that opened the TCP
/// connection to the side that accepted it, `downstream` the reverse: for a forward listener
/// client to server and back, as in Toxiproxy; for an echo, reply or hold listener and for an
/// outbound session by the same rule.
public enum FaultDirection: String, Sendable, CaseIterable, Equatable {
    case upstream
    case downstream
}
