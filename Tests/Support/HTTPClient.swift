import Foundation
import NIOCore

/// An HTTP/1.1 response as the tests look at it.
public struct HTTPResult: Sendable {
    public let status: Int
    public let headers: [(String, String)]
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The body as a JSON object.
    public var json: [String: Any] {
        get throws {
            guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
                throw TimedOut("body is not a JSON object: \(text)")
            }
            return object
        }
    }

    /// A top-level field of the JSON body.
    public subscript(_ key: String) -> Any? { (try? json)?[key] }

    /// `error.code` of the API's error shape.
    public var errorCode: String? {
        ((try? json)?["error"] as? [String: Any])?["code"] as? String
    }
}

/// A deliberately small HTTP client: one request per connection, bytes exactly as given, so
/// tests can also send what no well-behaved client would.
public struct HTTPClient: Sendable {
    public let port: Int
    /// Set to talk to an API on a unix socket instead of 127.0.0.1:port.
    public let unixPath: String?
    public init(port: Int) {
        self.port = port
        unixPath = nil
    }
    public init(unixPath: String) {
        port = 0
        self.unixPath = unixPath
    }

    public func get(_ path: String, timeout: Duration = .seconds(70)) async throws -> HTTPResult {
        try await request("GET", path, timeout: timeout)
    }

    public func delete(_ path: String) async throws -> HTTPResult {
        try await request("DELETE", path)
    }

    public func post(_ path: String, json: String, contentType: String? = nil) async throws -> HTTPResult {
        try await request("POST", path, body: Array(json.utf8), contentType: contentType)
    }

    public func patch(_ path: String, json: String) async throws -> HTTPResult {
        try await request("PATCH", path, body: Array(json.utf8))
    }

    public func request(
        _ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil,
        extraHeaders: [(String, String)] = [], timeout: Duration = .seconds(70)
    ) async throws -> HTTPResult {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return try await raw(Array(head.utf8) + (body ?? []), timeout: timeout)
    }

    /// Sends raw bytes and parses what comes back before the server closes.
    public func raw(_ bytes: [UInt8], timeout: Duration = .seconds(70)) async throws -> HTTPResult {
        let connection: TestConnection
        if let unixPath {
            connection = try await TestConnection.connect(unixPath: unixPath)
        } else {
            connection = try await TestConnection.connect(port: port)
        }
        defer { Task { await connection.close() } }
        try await connection.send(bytes)
        try await connection.waitForClose(timeout: timeout)
        return try Self.parse(connection.received)
    }

    static func parse(_ bytes: [UInt8]) throws -> HTTPResult {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.firstRange(of: separator) else { throw TimedOut("no complete HTTP response: \(String(decoding: bytes, as: UTF8.self))") }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw TimedOut("bad status line \(head[0])") }
        let headers = head.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Array(bytes[end.upperBound...])
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            body = try dechunk(body)
        }
        return HTTPResult(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ bytes: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstRange(of: Array("\r\n".utf8)) else { break }
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16) else { throw TimedOut("bad chunk size") }
            if size == 0 { break }
            let start = lineEnd.upperBound
            out += bytes[start..<min(start + size, bytes.count)]
            index = start + size + 2
        }
        return out
    }
}
