import NIOCore
import SwitchboardCore

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
