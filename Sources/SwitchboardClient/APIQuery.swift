import Foundation

/// A request's query parameters in order; a nil value is left out, so an unset flag sends
/// nothing rather than an empty parameter.
public struct APIQuery: ExpressibleByDictionaryLiteral, Sendable {
    public var items: [(String, String)]

    public init(dictionaryLiteral elements: (String, String?)...) {
        items = elements.compactMap { key, value in value.map { (key, $0) } }
    }

    public mutating func append(_ key: String, _ value: String?) {
        if let value { items.append((key, value)) }
    }

    var encoded: String {
        guard !items.isEmpty else { return "" }
        return "?" + items.map { "\(Self.escape($0))=\(Self.escape($1))" }.joined(separator: "&")
    }

    private static let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~:"))

    private static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: safe) ?? text
    }
}
