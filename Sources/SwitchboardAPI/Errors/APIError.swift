import HTTPTypes
import Hummingbird

/// The one error shape of the API: `{"error": {"code": "...", "message": "..."}}`.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(style: (context as? APIRequestContext)?.jsonStyle ?? .compact)
    }

    func response(style: JSONStyle) -> Response {
        var response = JSONResponse.make(json: style == .compact ? body : body(style: style), status: status)
        for field in headers { response.headers.append(field) }
        return response
    }

    /// The body, for Hummingbird's answers and the channel handlers that answer below it alike.
    var body: [UInt8] { body(style: .compact) }

    private func body(style: JSONStyle) -> [UInt8] {
        JSONResponse.bytes(Body(error: .init(code: code, message: message)), style: style) ?? []
    }

    private struct Body: Encodable {
        struct Detail: Encodable { let code: String; let message: String }
        let error: Detail
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static func invalid(_ message: String) -> APIError { APIError(.badRequest, "invalid_value", message) }
}
