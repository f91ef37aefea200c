import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardHistory

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
/// Live sessions have the same shape as the history's rows (`SessionRecord`), so a script reads both alike.
struct SessionList: Encodable { let sessions: [SessionRecord] }

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

    enum CodingKeys: String, CodingKey {
        case messages, next
        case firstSeq = "first_seq"
        case sessionState = "session_state"
    }

    init(page: MessagePage, state: SessionState, encoding: DataEncoding?) {
        messages = page.messages.map { message in
            MessageItem(seq: message.seq, direction: message.direction.rawValue, at: RFC3339.format(message.at), data: message.data, as: encoding)
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
