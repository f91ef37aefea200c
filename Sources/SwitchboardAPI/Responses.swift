import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardHistory

/// Written by hand, unlike every other answer: the reply and forward keys exist only for
/// listeners of those modes (the OpenAPI document has them non-null and optional), and the
/// encoder writes every absent optional as null.
struct ListenerResponse: Encodable {
    let info: ListenerInfo

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
        case options
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
    }
}

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

/// Where a named reconnecting session stands, with its current (or latest) session.
struct ReconnectResponse: Encodable {
    let name: String
    let connect: String
    let state: String
    let sessionID: String?
    let failures: Int
    let nextAttemptAt: String?
    let lastError: String?
    let session: SessionRecord?

    enum CodingKeys: String, CodingKey {
        case name, connect, state
        case sessionID = "session_id"
        case failures
        case nextAttemptAt = "next_attempt_at"
        case lastError = "last_error"
        case session
    }

    init(status: ReconnectStatus, session: SessionRecord?) {
        name = status.name
        connect = status.endpoint
        state = status.state.rawValue
        sessionID = status.sessionID?.rawValue
        failures = status.failures
        nextAttemptAt = status.nextAttemptAt.map(RFC3339.format)
        lastError = status.lastError
        self.session = session
    }
}

struct ListenerList: Encodable { let listeners: [ListenerResponse] }
/// Live sessions have the same shape as the history's rows (`SessionRecord`), so a script reads both alike.
/// With the named reconnecting sessions that match the same filter, whatever their state.
struct SessionList: Encodable {
    let sessions: [SessionRecord]
    let reconnecting: [ReconnectResponse]
}

struct SendResponse: Encodable {
    let bytesSent: Int
    let session: SessionRecord
    enum CodingKeys: String, CodingKey {
        case bytesSent = "bytes_sent"
        case session
    }
}

/// One message as both the live and the captured transcripts show it.
struct MessageItem: Encodable {
    let seq: UInt64
    let direction: String
    let at: String
    let data: String
    let encoding: String
    let bytes: Int

    init(seq: UInt64, direction: String, at: String, data: ByteBuffer, as wanted: DataEncoding?) {
        let (text, used) = DataEncoding.encode(data, as: wanted)
        self.seq = seq
        self.direction = direction
        self.at = at
        self.data = text
        self.encoding = used.rawValue
        self.bytes = data.readableBytes
    }
}

struct MessagesResponse: Encodable {
    let messages: [MessageItem]
    let next: UInt64
    let firstSeq: UInt64?
    let sessionState: String
    let peerFinished: Bool

    enum CodingKeys: String, CodingKey {
        case messages, next
        case firstSeq = "first_seq"
        case sessionState = "session_state"
        case peerFinished = "peer_finished"
    }

    init(page: MessagePage, state: SessionState, encoding: DataEncoding?) {
        messages = page.messages.map { message in
            MessageItem(seq: message.seq, direction: message.direction.rawValue, at: RFC3339.format(message.at), data: message.data, as: encoding)
        }
        next = page.next
        firstSeq = page.firstRetained
        sessionState = state.rawValue
        peerFinished = page.peerFinished
    }
}
