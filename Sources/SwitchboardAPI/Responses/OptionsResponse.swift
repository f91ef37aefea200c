import SwitchboardCore

/// Connection options with every key present; null means the default. Written by hand for
/// `backlog`, a listener's key only.
struct OptionsResponse: Encodable {
    let options: ConnectionOptions
    let listener: Bool

    enum CodingKeys: String, CodingKey {
        case nodelay, keepalive, backlog
        case idleTimeoutMs = "idle_timeout_ms"
        case connectTimeoutMs = "connect_timeout_ms"
    }

    struct Keepalive: Encodable {
        let idle_s: Int?
        let interval_s: Int?
        let count: Int?
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(options.nodelay ?? true, forKey: .nodelay)
        try c.encode(options.keepalive.map { Keepalive(idle_s: $0.idle, interval_s: $0.interval, count: $0.count) }, forKey: .keepalive)
        try c.encode(options.idleTimeout.map(\.wholeMilliseconds), forKey: .idleTimeoutMs)
        try c.encode(options.connectTimeout.map(\.wholeMilliseconds), forKey: .connectTimeoutMs)
        if listener { try c.encode(options.backlog ?? ConnectionOptions.defaultBacklog, forKey: .backlog) }
    }
}
