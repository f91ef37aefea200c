
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
    var faults: [FaultRequest]?

    static var nested: [String: any StrictRequestShape.Type] {
        ["keepalive": KeepaliveRequest.self, "reconnect": ReconnectRequest.self, "faults": FaultRequest.self]
    }

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case connect, name, send, encoding, capture, nodelay, keepalive, reconnect, faults
        case connectTimeoutMs = "connect_timeout_ms"
        case idleTimeoutMs = "idle_timeout_ms"
    }
}
