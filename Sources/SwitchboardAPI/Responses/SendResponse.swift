import SwitchboardHistory

struct SendResponse: Encodable {
    let bytesSent: Int
    let session: SessionRecord
    enum CodingKeys: String, CodingKey {
        case bytesSent = "bytes_sent"
        case session
    }
}
