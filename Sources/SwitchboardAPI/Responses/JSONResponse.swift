import HTTPTypes
import Hummingbird
import NIOCore

enum JSONResponse {
    /// `style`: the request's (`context.jsonStyle`), which `?pretty` chooses.
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, style: JSONStyle) throws -> Response {
        make(json: try StreamingJSONEncoder.encode(value, style: style) + [UInt8(ascii: "\n")], status: status)
    }

    static func make(json: [UInt8], status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }

    /// The bytes of an answer, its final newline included; nil when the value cannot be JSON.
    static func bytes(_ value: some Encodable, style: JSONStyle = .compact) -> [UInt8]? {
        (try? StreamingJSONEncoder.encode(value, style: style)).map { $0 + [UInt8(ascii: "\n")] }
    }
}
