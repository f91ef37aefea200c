/// `POST /v1/listeners`
struct CreateListenerRequest: StrictRequest {
    var name: String
    var address: String
    var mode: String
    var reply: String?
    var replyEncoding: String?
    var closeAfterReply: Bool?
    var maxSessions: Int?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, address, mode, reply
        case replyEncoding = "reply_encoding"
        case closeAfterReply = "close_after_reply"
        case maxSessions = "max_sessions"
    }
}

/// `POST /v1/sessions`
struct ConnectRequest: StrictRequest {
    var connect: String
    var name: String?
    var send: String?
    var encoding: String?
    var connectTimeoutMs: Int?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case connect, name, send, encoding
        case connectTimeoutMs = "connect_timeout_ms"
    }
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
