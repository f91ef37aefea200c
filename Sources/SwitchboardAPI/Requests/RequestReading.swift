import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// Reading bodies and query strings the same strict way on every endpoint.
enum RequestReading {
    enum BodyKind { case json, octetStream }

    /// JSON is read whatever `curl -d` says it is (form-encoded) or when nothing is said, so a
    /// walkthrough needs no `-H`; raw bytes only where an endpoint takes them.
    static func kind(of request: Request, allowOctetStream: Bool = false) throws(APIError) -> BodyKind {
        guard let header = request.headers[.contentType] else { return .json }
        let media = header.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch media {
        case "application/json", "application/x-www-form-urlencoded", "text/json", "":
            return .json
        case "application/octet-stream" where allowOctetStream:
            return .octetStream
        default:
            let accepted = allowOctetStream ? "application/json or application/octet-stream" : "application/json"
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "Content-Type '\(media)' is not accepted here; send \(accepted)")
        }
    }

    static func tooLarge(_ limits: APILimits) -> APIError {
        APIError(.contentTooLarge, "body_too_large", "the body is larger than \(limits.maxBodyBytes) bytes")
    }

    static func body(of request: Request, context: APIRequestContext) async throws(APIError) -> ByteBuffer {
        let maxBodyBytes = context.limits.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes { throw tooLarge(context.limits) }
        do {
            return try await request.body.collect(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge(context.limits)
        } catch is NIOTooManyBytesError {
            throw tooLarge(context.limits)
        } catch let error as HTTPParserError {
            // The stream cannot be read past this: the connection ends after the answer.
            var refusal = APIError(.badRequest, "bad_request", describe(error, chunked: isChunked(request)))
            refusal.headers[.connection] = "close"
            throw refusal
        } catch {
            throw APIError(.badRequest, "bad_request", "could not read the body: \(error)")
        }
    }

    private static func isChunked(_ request: Request) -> Bool {
        request.headers[values: .transferEncoding].contains { $0.lowercased().contains("chunked") }
    }

    /// What a person can act on, where NIO's parser says "strict mode assertion".
    private static func describe(_ error: HTTPParserError, chunked: Bool) -> String {
        guard chunked else { return "the body could not be read: \(error)" }
        let detail = switch error {
        case .invalidChunkSize: "a chunk size is not a hexadecimal number"
        case .strictModeAssertion, .lfExpected, .invalidConstant:
            "a chunk size line, or the CRLF after a chunk's data, is not as RFC 9112 section 7.1 writes it"
        default: "\(error)"
        }
        return "malformed chunked body: \(detail)"
    }

    /// Checks the body strictly (libjansson), then decodes the typed request (Codable).
    static func decode<T: StrictRequest>(_ type: T.Type, from request: Request, context: APIRequestContext) async throws(APIError) -> T {
        _ = try kind(of: request)
        let body = try await body(of: request, context: context)
        return try decode(type, from: body, context: context)
    }

    static func decode<T: StrictRequest>(_ type: T.Type, from body: ByteBuffer, context: APIRequestContext) throws(APIError) -> T {
        try StrictJSON.check(body, allowedKeys: T.allowedKeys, nested: T.nestedShapes, maxDepth: context.limits.maxJSONDepth)
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw APIError(.badRequest, "malformed_json", "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> APIError {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let prefix = path(context)
            return APIError(.badRequest, "missing_field", "missing field '\(prefix.isEmpty ? key.stringValue : prefix + "." + key.stringValue)'")
        case .typeMismatch(let type, let context):
            return APIError(.badRequest, "invalid_type", "field '\(path(context))' must be \(typeName(type))")
        case .valueNotFound(let type, let context):
            return APIError(.badRequest, "invalid_type", "field '\(path(context))' must be \(typeName(type)), not null")
        case .dataCorrupted(let context):
            let field = path(context)
            return APIError(.badRequest, "invalid_value", field.isEmpty ? "a value in the body is out of range: \(context.debugDescription)" : "field '\(field)' is out of range or malformed")
        @unknown default:
            return APIError(.badRequest, "invalid_value", "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is UInt64.Type: "an integer"
        case is Double.Type: "a number"
        default: "of type \(type)"
        }
    }
}
