import SwitchboardCore

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
