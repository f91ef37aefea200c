import HTTPTypes
import Hummingbird
import NIOCore

enum JSONResponse {
    /// `style`: the request's (`context.jsonStyle`), which `?pretty` chooses.
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, style: JSONStyle) throws -> Response {
        make(body: try body(value, style: style), status: status)
    }

    static func make(json: [UInt8], status: HTTPResponse.Status) -> Response {
        make(body: ByteBuffer(bytes: json), status: status)
    }

    static func make(body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }

    /// An answer's body, its final newline included: appended in place, where `+ [newline]`
    /// made and filled a second array before the buffer's copy.
    static func body(_ value: some Encodable, style: JSONStyle) throws -> ByteBuffer {
        var json = try StreamingJSONEncoder.encode(value, style: style)
        json.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: json)
    }

    /// The bytes of an answer, its final newline included; nil when the value cannot be JSON.
    static func bytes(_ value: some Encodable, style: JSONStyle = .compact) -> [UInt8]? {
        guard var json = try? StreamingJSONEncoder.encode(value, style: style) else { return nil }
        json.append(UInt8(ascii: "\n"))
        return json
    }
}
