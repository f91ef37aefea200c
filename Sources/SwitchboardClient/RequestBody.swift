import Foundation

/// What a `POST` carries: a JSON object, or raw bytes (`send` takes them as
/// `application/octet-stream`).
public enum RequestBody: Sendable {
    case json(Data)
    case octets(Data)

    /// `fields` written as a JSON object; nil values are left out, so the service applies its
    /// defaults.
    public static func json(_ fields: [String: (any Sendable)?]) throws(ClientError) -> RequestBody {
        let present = fields.compactMapValues { $0 }
        do {
            return .json(try JSONSerialization.data(withJSONObject: present, options: [.sortedKeys]))
        } catch {
            throw .local("could not write the request body: \(error)")
        }
    }
}
