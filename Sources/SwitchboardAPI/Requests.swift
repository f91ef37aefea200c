import SwitchboardCore

/// `POST /v1/listeners`
struct CreateListenerRequest: StrictRequest {
    var name: String
    var address: String
    var mode: String
    var reply: String?
    var replyEncoding: String?
    var closeAfterReply: Bool?
    var maxSessions: WholeNumber?
    var capture: Bool?
    var forwardTo: String?
    var onUpstreamFailure: String?
    var nodelay: Bool?
    var keepalive: KeepaliveRequest?
    var idleTimeoutMs: WholeNumber?
    var connectTimeoutMs: WholeNumber?
    var backlog: WholeNumber?

    static var nested: [String: any StrictRequestShape.Type] { ["keepalive": KeepaliveRequest.self] }

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, address, mode, reply, capture, nodelay, keepalive, backlog
        case replyEncoding = "reply_encoding"
        case closeAfterReply = "close_after_reply"
        case maxSessions = "max_sessions"
        case forwardTo = "forward_to"
        case onUpstreamFailure = "on_upstream_failure"
        case idleTimeoutMs = "idle_timeout_ms"
        case connectTimeoutMs = "connect_timeout_ms"
    }
}

/// `"keepalive": {"idle_s": 60, "interval_s": 10, "count": 5}`; `{}` turns keepalive on with the kernel's timings.
struct KeepaliveRequest: StrictRequest, StrictRequestShape {
    var idleS: WholeNumber?
    var intervalS: WholeNumber?
    var count: WholeNumber?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case count
        case idleS = "idle_s"
        case intervalS = "interval_s"
    }
}

/// `"reconnect": {"initial_ms": 100, "max_ms": 30000, "jitter": true}`
struct ReconnectRequest: StrictRequest, StrictRequestShape {
    var initialMs: WholeNumber?
    var maxMs: WholeNumber?
    var jitter: Bool?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case jitter
        case initialMs = "initial_ms"
        case maxMs = "max_ms"
    }
}

/// `POST /v1/sessions`
struct ConnectRequest: StrictRequest {
    var connect: String
    var name: String?
    var send: String?
    var encoding: String?
    var connectTimeoutMs: WholeNumber?
    var capture: Bool?
    var nodelay: Bool?
    var keepalive: KeepaliveRequest?
    var idleTimeoutMs: WholeNumber?
    var reconnect: ReconnectRequest?

    static var nested: [String: any StrictRequestShape.Type] {
        ["keepalive": KeepaliveRequest.self, "reconnect": ReconnectRequest.self]
    }

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case connect, name, send, encoding, capture, nodelay, keepalive, reconnect
        case connectTimeoutMs = "connect_timeout_ms"
        case idleTimeoutMs = "idle_timeout_ms"
    }
}

extension KeepaliveRequest {
    var options: ConnectionOptions.Keepalive {
        ConnectionOptions.Keepalive(idle: idleS?.value, interval: intervalS?.value, count: count?.value)
    }
}

/// The connection options both listeners and sessions take, checked with the core's ranges
/// here because a session's connect timeout then leaves the options for its `ConnectSpec`.
/// Any whole number fits a `Duration` (128-bit attoseconds), so the check can follow it.
func connectionOptions(
    nodelay: Bool?, keepalive: KeepaliveRequest?, idleTimeoutMs: WholeNumber?, connectTimeoutMs: WholeNumber?, backlog: WholeNumber?
) throws(SwitchboardError) -> ConnectionOptions {
    let options = ConnectionOptions(
        nodelay: nodelay,
        keepalive: keepalive?.options,
        idleTimeout: idleTimeoutMs.map { .milliseconds($0.value) },
        connectTimeout: connectTimeoutMs.map { .milliseconds($0.value) },
        backlog: backlog?.value
    )
    try options.validate()
    return options
}

/// `POST /v1/sessions/{id}/send` with a JSON body.
struct SendRequest: StrictRequest {
    var data: String
    var encoding: String?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case data, encoding
    }
}

/// An integer field. Foundation reports `1.5` for an `Int` without saying which field it was;
/// decoding the number first keeps the field's name in the error.
struct WholeNumber: Decodable, Sendable {
    let value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let number = try container.decode(Double.self)
        guard let value = Int(exactly: number) else {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath, debugDescription: "\(number) is not a whole number"))
        }
        self.value = value
    }
}
