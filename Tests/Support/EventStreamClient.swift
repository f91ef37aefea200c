import Foundation

/// One Server-Sent Event as a client sees it.
public struct SSEEvent: Sendable {
    public let id: UInt64?
    public let event: String
    public let data: String

    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
    }

    public subscript(_ key: String) -> Any? { json[key] }
}

/// A streaming reader of `text/event-stream` over a raw socket: the response head, then
/// chunked body parts parsed into events as they arrive.
public struct EventStreamClient: Sendable {
    public let connection: TestConnection

    /// Sends `GET path` and waits for the response head.
    public static func open(port: Int, _ path: String, headers: [(String, String)] = [], timeout: Duration = .seconds(10)) async throws -> EventStreamClient {
        let connection = try await TestConnection.connect(port: port)
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try await connection.send(head)
        let client = EventStreamClient(connection: connection)
        try await eventually("the response head", timeout: timeout) { client.headEnd != nil || connection.isClosed }
        return client
    }

    private var headEnd: Int? {
        connection.received.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound
    }

    /// The response's status code (0 before the head arrived).
    public var status: Int {
        guard let end = headEnd else { return 0 }
        let line = String(decoding: connection.received[..<end], as: UTF8.self).split(separator: "\r\n").first ?? ""
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    }

    public var head: String {
        guard let end = headEnd else { return "" }
        return String(decoding: connection.received[..<end], as: UTF8.self)
    }

    /// The body so far, chunked transfer encoding taken off.
    public var body: String {
        guard let end = headEnd else { return "" }
        guard head.lowercased().contains("transfer-encoding: chunked") else {
            return String(decoding: connection.received[end...], as: UTF8.self)
        }
        return String(decoding: chunks.joined(), as: UTF8.self)
    }

    /// The sizes of the body's chunks so far (chunked transfer encoding).
    public var chunkSizes: [Int] { chunks.map(\.count) }

    /// The complete chunks of a chunked body so far.
    private var chunks: [ArraySlice<UInt8>] {
        guard let end = headEnd else { return [] }
        let bytes = Array(connection.received[end...])
        var chunks: [ArraySlice<UInt8>] = []
        var index = 0
        while let lineEnd = bytes[index...].firstRange(of: Array("\r\n".utf8)) {
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText, radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            guard start + size <= bytes.count else { break }
            chunks.append(bytes[start..<start + size])
            index = start + size + 2
            guard index <= bytes.count else { break }
        }
        return chunks
    }

    /// Every complete event so far, in order.
    public var events: [SSEEvent] {
        var events: [SSEEvent] = []
        for block in body.components(separatedBy: "\n\n").dropLast() {
            var id: UInt64?
            var name = "message"
            var data: [String] = []
            var any = false
            for line in block.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix(":") {
                any = true
                if line.hasPrefix("id: ") { id = UInt64(line.dropFirst(4)) }
                else if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                else if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
            }
            if any { events.append(SSEEvent(id: id, event: name, data: data.joined(separator: "\n"))) }
        }
        return events
    }

    /// Comment lines (`: ...`) so far, keep-alives among them.
    public var comments: [String] {
        body.split(separator: "\n").filter { $0.hasPrefix(":") }.map(String.init)
    }

    /// Waits until `condition` holds for the events so far, and returns them.
    @discardableResult
    public func waitForEvents(
        _ what: String, timeout: Duration = .seconds(10), until condition: @escaping ([SSEEvent]) -> Bool
    ) async throws -> [SSEEvent] {
        try await eventually("\(what); have \(events.map(\.event))", timeout: timeout) { condition(events) }
        return events
    }

    /// Waits for an event named `name` and returns the first one.
    public func waitForEvent(_ name: String, timeout: Duration = .seconds(10)) async throws -> SSEEvent {
        try await waitForEvents("an event \(name)", timeout: timeout) { $0.contains { $0.event == name } }.first { $0.event == name }!
    }

    public var isClosed: Bool { connection.isClosed }

    public func close() async { await connection.close() }
}
