import Foundation

/// An answer of the API: its status and the body as it came.
public struct APIAnswer: Sendable {
    public let status: Int
    public let body: Data

    /// The body typed by one of the `Answers/` shapes.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws(ClientError) -> T {
        do {
            return try Self.decoder.decode(T.self, from: body)
        } catch {
            throw .local("the answer is not what the switchboard API sends (\(error)): \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
    }

    /// The API's names are snake_case, the shapes' camelCase.
    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    /// Throws `.refused` for a 4xx or 5xx, with the message of the service's error shape, or
    /// the status and the start of the body when an answer is not in that shape (a proxy's).
    func checked() throws(ClientError) {
        guard !(200..<300).contains(status) else { return }
        if let shape = try? Self.decoder.decode(ErrorShape.self, from: body) {
            throw .refused(status: status, code: shape.error.code, message: shape.error.message)
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        throw .refused(status: status, code: "http_error", message: "HTTP \(status)" + (text.isEmpty ? "" : ": \(text)"))
    }

    private struct ErrorShape: Decodable {
        struct Detail: Decodable {
            let code: String
            let message: String
        }
        let error: Detail
    }
}
