import NIOCore

/// One event of `GET /v1/events`.
public struct ServerSentEvent: Sendable, Equatable {
    public let id: String?
    public let event: String
    /// One line of JSON, as the service sends every event's data.
    public let data: String
}

/// Turns the chunks of a `text/event-stream` into events, as the HTML standard reads them:
/// lines end in LF, CRLF or CR; `:` starts a comment (the service's keep-alive); a blank line
/// ends an event. Chunks may cut a line anywhere; what is left waits for the next.
public struct ServerSentEventParser: Sendable {
    private var pending: [UInt8] = []
    private var id: String?
    private var event = ""
    private var data: [String] = []
    private var sawCR = false

    public init() {}

    public mutating func feed(_ chunk: ByteBuffer) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in chunk.readableBytesView {
            if sawCR {
                sawCR = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\r"):
                sawCR = true
                fallthrough
            case UInt8(ascii: "\n"):
                if let complete = line(String(decoding: pending, as: UTF8.self)) { events.append(complete) }
                pending.removeAll(keepingCapacity: true)
            default:
                pending.append(byte)
            }
        }
        return events
    }

    private mutating func line(_ line: String) -> ServerSentEvent? {
        if line.isEmpty {
            defer { event = ""; data = []; id = nil }
            guard !data.isEmpty else { return nil }
            return ServerSentEvent(id: id, event: event.isEmpty ? "message" : event, data: data.joined(separator: "\n"))
        }
        if line.hasPrefix(":") { return nil }
        let field: Substring
        var value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
        } else {
            field = Substring(line)
            value = ""
        }
        switch field {
        case "id": id = String(value)
        case "event": event = String(value)
        case "data": data.append(String(value))
        default: break
        }
        return nil
    }
}
