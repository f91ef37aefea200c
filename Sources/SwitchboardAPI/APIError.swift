import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore

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
        response()
    }

    func response() -> Response {
        var response = JSONResponse.make(json: body, status: status)
        for field in headers { response.headers.append(field) }
        return response
    }

    /// The body, for Hummingbird's answers and the channel handlers that answer below it alike.
    var body: [UInt8] { JSONResponse.bytes(Body(error: .init(code: code, message: message))) ?? [] }

    private struct Body: Encodable {
        struct Detail: Encodable { let code: String; let message: String }
        let error: Detail
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static func invalid(_ message: String) -> APIError { APIError(.badRequest, "invalid_value", message) }
}

extension APIError {
    /// The status and code for each refusal of the core.
    init(_ error: SwitchboardError) {
        switch error.kind {
        case .invalidArgument: self.init(.badRequest, "invalid_value", error.message)
        case .notFound: self.init(.notFound, "not_found", error.message)
        case .nameTaken: self.init(.conflict, "name_taken", error.message)
        case .addressInUse: self.init(.conflict, "address_in_use", error.message)
        case .addressUnavailable: self.init(.conflict, "address_unavailable", error.message)
        case .sessionClosed: self.init(.conflict, "session_closed", error.message)
        case .connectRefused: self.init(.badGateway, "connect_failed", error.message)
        case .connectTimeout: self.init(.gatewayTimeout, "connect_timeout", error.message)
        case .shuttingDown: self.init(.serviceUnavailable, "shutting_down", error.message)
        case .storageUnavailable: self.init(.serviceUnavailable, "storage_unavailable", error.message)
        case .limitReached: self.init(.serviceUnavailable, "limit_reached", error.message)
        case .forbidden: self.init(.forbidden, "forbidden", error.message)
        case .sendQueueFull: self.init(.conflict, "send_queue_full", error.message)
        }
    }
}
