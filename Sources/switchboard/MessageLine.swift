import Foundation

/// One message of a transcript as a line for people: when, which way, how many bytes, and the
/// bytes as a quoted string (escapes for what is not printable) or base64 when not UTF-8.
enum MessageLine {
    static func format(at: String, direction: String, data: Data) -> String {
        let arrow = direction == "in" ? "<-" : "->"
        let text = String(data: data, encoding: .utf8).map { $0.debugDescription } ?? "base64:" + data.base64EncodedString()
        return "\(at) \(arrow) \(data.count) bytes \(text)"
    }
}
