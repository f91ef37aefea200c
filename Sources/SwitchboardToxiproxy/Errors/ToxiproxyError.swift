import HTTPTypes
import Hummingbird
import NIOCore

/// Toxiproxy's one error shape, `{"error": "message", "status": N}`, with its own messages:
/// clients match on the status, and people on the words they know from Toxiproxy.
public struct ToxiproxyError: HTTPResponseError, Sendable, Equatable {
    public let status: HTTPResponse.Status
    public let message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    func response() -> Response {
        var response = ToxiproxyJSON.response(ToxiproxyJSON.error(message, status: status.code), status: status)
        for field in headers { response.headers.append(field) }
        return response
    }

    static func badBody(_ detail: String) -> ToxiproxyError { ToxiproxyError(.badRequest, "bad request body: \(detail)") }
    static func missingField(_ field: String) -> ToxiproxyError { ToxiproxyError(.badRequest, "missing required field: \(field)") }
    static let proxyNotFound = ToxiproxyError(.notFound, "proxy not found")
    static let proxyExists = ToxiproxyError(.conflict, "proxy already exists")
    static let invalidStream = ToxiproxyError(.badRequest, "stream was invalid, can be either upstream or downstream")
    static let invalidToxicType = ToxiproxyError(.badRequest, "invalid toxic type")
    static let toxicExists = ToxiproxyError(.conflict, "toxic already exists")
    static let toxicNotFound = ToxiproxyError(.notFound, "toxic not found")
    static let browser = ToxiproxyError(.forbidden, "User agent not allowed")
}
