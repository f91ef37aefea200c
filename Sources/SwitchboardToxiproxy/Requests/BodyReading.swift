import Foundation
import Hummingbird
import NIOCore

/// Reads a request body as Toxiproxy's handlers do: one JSON value, fields by name, unknown
/// ones ignored; anything unreadable is 400 `bad request body: ...`.
enum BodyReading {
    static let maxBytes = 1 << 20

    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBytes)
        } catch {
            throw ToxiproxyError(.contentTooLarge, "bad request body: larger than \(maxBytes) bytes")
        }
        let bytes = Data(buffer.readableBytesView)
        // Go's decoder reports an empty body as the end of its input.
        guard bytes.contains(where: { !" \t\r\n".utf8.contains($0) }) else { throw ToxiproxyError.badBody("EOF") }
        do {
            return try JSONDecoder().decode(T.self, from: bytes)
        } catch let error as DecodingError {
            throw ToxiproxyError.badBody(describe(error))
        } catch {
            throw ToxiproxyError.badBody("the body is not JSON")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
            return keys.isEmpty ? "the body" : keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context)) must be \(name(of: type))"
        case .valueNotFound(let type, let context):
            return "\(path(context)) must be \(name(of: type))"
        case .keyNotFound(let key, _):
            return "missing \(key.stringValue)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(context)) cannot be read"
        @unknown default:
            return "the body cannot be read"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Double.Type: "a number"
        default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}
