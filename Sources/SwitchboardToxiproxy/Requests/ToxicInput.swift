/// A toxic as Toxiproxy's clients send it to `POST /proxies/{p}/toxics` (and, for a change,
/// `attributes` and `toxicity` alone). Unknown fields are ignored.
struct ToxicInput: Decodable, Sendable {
    var name: String?
    var type: String?
    var stream: String?
    var toxicity: Double?
    var attributes: [String: AttributeValue]?
}

/// An attribute's value as sent. Only the toxic type's own attributes are read, and they must
/// be numbers; anything under another name is ignored whatever it holds, as Toxiproxy does.
enum AttributeValue: Decodable, Sendable {
    case number(Double)
    /// Leaves the attribute as it is (Go's decoder skips a null).
    case null
    case other

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if (try? container.decode(Bool.self)) != nil {
            self = .other
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else {
            self = .other
        }
    }
}
