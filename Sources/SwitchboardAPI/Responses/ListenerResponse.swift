import SwitchboardCore

/// Written by hand, unlike every other answer: the reply and forward keys exist only for
/// listeners of those modes (the OpenAPI document has them non-null and optional), and the
/// encoder writes every absent optional as null.
struct ListenerResponse: Encodable {
    let info: ListenerInfo
    /// The service (`--instance`) the listener belongs to, last.
    let instance: String

    enum CodingKeys: String, CodingKey {
        case name, mode, address, state, reply, error, capture
        case requestedAddress = "requested_address"
        case replyEncoding = "reply_encoding"
        case closeAfterReply = "close_after_reply"
        case maxSessions = "max_sessions"
        case createdAt = "created_at"
        case openSessions = "open_sessions"
        case totalSessions = "total_sessions"
        case rejectedSessions = "rejected_sessions"
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case forwardTo = "forward_to"
        case onUpstreamFailure = "on_upstream_failure"
        case options, faults, instance
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(info.name, forKey: .name)
        try c.encode(info.mode.name, forKey: .mode)
        try c.encode(info.address, forKey: .address)
        try c.encode(info.requestedAddress.description, forKey: .requestedAddress)
        try c.encode(info.state.rawValue, forKey: .state)
        try c.encode(info.error, forKey: .error)
        try c.encode(info.capture, forKey: .capture)
        if case .reply(let reply, let closeAfterReply) = info.mode {
            let (text, encoding) = DataEncoding.encode(reply, as: nil)
            try c.encode(text, forKey: .reply)
            try c.encode(encoding.rawValue, forKey: .replyEncoding)
            try c.encode(closeAfterReply, forKey: .closeAfterReply)
        }
        if case .forward(let upstream, let reset) = info.mode {
            try c.encode(upstream.description, forKey: .forwardTo)
            try c.encode(reset ? "reset" : "close", forKey: .onUpstreamFailure)
        }
        try c.encode(OptionsResponse(options: info.options, listener: true), forKey: .options)
        try c.encode(info.maxSessions, forKey: .maxSessions)
        try c.encode(RFC3339.format(info.createdAt), forKey: .createdAt)
        try c.encode(info.openSessions, forKey: .openSessions)
        try c.encode(info.totalSessions, forKey: .totalSessions)
        try c.encode(info.rejectedSessions, forKey: .rejectedSessions)
        try c.encode(info.bytesIn, forKey: .bytesIn)
        try c.encode(info.bytesOut, forKey: .bytesOut)
        try c.encode(info.faults.map(FaultResponse.init), forKey: .faults)
        try c.encode(instance, forKey: .instance)
    }
}
