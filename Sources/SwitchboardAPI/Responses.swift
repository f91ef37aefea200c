import Foundation
import SwitchboardCore

/// A session as the API shows it; absent values are `null`, so every object has every key.
struct SessionResponse: Encodable {
    let info: SessionInfo

    enum CodingKeys: String, CodingKey {
        case id, role, listener, name, state
        case localAddress = "local_address"
        case remoteAddress = "remote_address"
        case openedAt = "opened_at"
        case closedAt = "closed_at"
        case closeReason = "close_reason"
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case capture
        case captureTruncated = "capture_truncated"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(info.capture, forKey: .capture)
        try c.encode(info.captureTruncated, forKey: .captureTruncated)
        try c.encode(info.id.rawValue, forKey: .id)
        try c.encode(info.role.rawValue, forKey: .role)
        try c.encode(info.listener, forKey: .listener)
        try c.encode(info.name, forKey: .name)
        try c.encode(info.localAddress, forKey: .localAddress)
        try c.encode(info.remoteAddress, forKey: .remoteAddress)
        try c.encode(info.state.rawValue, forKey: .state)
        try c.encode(RFC3339.format(info.openedAt), forKey: .openedAt)
        try c.encode(info.closedAt.map(RFC3339.format), forKey: .closedAt)
        try c.encode(info.closeReason?.description, forKey: .closeReason)
        try c.encode(info.bytesIn, forKey: .bytesIn)
        try c.encode(info.bytesOut, forKey: .bytesOut)
    }
}

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
        try c.encode(info.maxSessions, forKey: .maxSessions)
        try c.encode(RFC3339.format(info.createdAt), forKey: .createdAt)
        try c.encode(info.openSessions, forKey: .openSessions)
        try c.encode(info.totalSessions, forKey: .totalSessions)
        try c.encode(info.rejectedSessions, forKey: .rejectedSessions)
        try c.encode(info.bytesIn, forKey: .bytesIn)
        try c.encode(info.bytesOut, forKey: .bytesOut)
    }
}

struct ListenerList: Encodable { let listeners: [ListenerResponse] }
struct SessionList: Encodable { let sessions: [SessionResponse] }

struct SendResponse: Encodable {
    let bytesSent: Int
    let session: SessionResponse
    enum CodingKeys: String, CodingKey {
        case bytesSent = "bytes_sent"
        case session
    }
}

struct MessagesResponse: Encodable {
    struct Item: Encodable {
        let seq: UInt64
        let direction: String
        let at: String
        let data: String
        let encoding: String
        let bytes: Int
    }
    let messages: [Item]
    let next: UInt64
    let firstSeq: UInt64?
    let sessionState: String

    enum CodingKeys: String, CodingKey {
        case messages, next
        case firstSeq = "first_seq"
        case sessionState = "session_state"
    }

    init(page: MessagePage, state: SessionState, encoding: DataEncoding?) {
        messages = page.messages.map { message in
            let (text, used) = DataEncoding.encode(message.data, as: encoding)
            return Item(seq: message.seq, direction: message.direction.rawValue, at: RFC3339.format(message.at), data: text, encoding: used.rawValue, bytes: message.data.readableBytes)
        }
        next = page.next
        firstSeq = page.firstRetained
        sessionState = state.rawValue
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(messages, forKey: .messages)
        try c.encode(next, forKey: .next)
        try c.encode(firstSeq, forKey: .firstSeq)
        try c.encode(sessionState, forKey: .sessionState)
    }
}
