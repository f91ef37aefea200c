import Foundation

/// Names and ids typed by a person go into a request's path as one segment, whatever they
/// hold: a `/` or `?` in a name must not become another path or a query.
enum Path {
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: safe) ?? text
    }

    private static let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
}
