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

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, address, mode, reply, capture
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
    var connectTimeoutMs: WholeNumber?
    var capture: Bool?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case connect, name, send, encoding, capture
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
