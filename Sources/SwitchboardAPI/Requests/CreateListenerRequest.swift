
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
    var faults: [FaultRequest]?

    static var nested: [String: any StrictRequestShape.Type] { ["keepalive": KeepaliveRequest.self, "faults": FaultRequest.self] }

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, address, mode, reply, capture, nodelay, keepalive, backlog, faults
        case replyEncoding = "reply_encoding"
        case closeAfterReply = "close_after_reply"
        case maxSessions = "max_sessions"
        case forwardTo = "forward_to"
        case onUpstreamFailure = "on_upstream_failure"
        case idleTimeoutMs = "idle_timeout_ms"
        case connectTimeoutMs = "connect_timeout_ms"
    }
}
