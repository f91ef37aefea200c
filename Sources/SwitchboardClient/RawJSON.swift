import Foundation

/// The parts of a JSON text as the service wrote them, byte for byte: an object's members in
/// their order, an array's elements. The API writes every object's keys in one documented
/// order on every path; Foundation's parsers forget it, so `-o ndjson` and `show` cut the
/// answer into pieces here instead of parsing and writing it again.
public enum RawJSON {
    /// The members of the object `text` is, in order, each value as its own JSON text; nil if
    /// `text` is not one well-formed object.
    public static func members(_ text: Data) -> [(key: String, value: Data)]? {
        var scanner = Scanner(Array(text))
        guard let members = scanner.object(), scanner.atEnd else { return nil }
        return members.map { ($0.key, Data($0.value)) }
    }

    /// The elements of the array `text` is, each as its own JSON text.
    public static func elements(_ text: Data) -> [Data]? {
        var scanner = Scanner(Array(text))
        guard let elements = scanner.array(), scanner.atEnd else { return nil }
        return elements.map { Data($0) }
    }

    /// The elements of the array under `key` of the object `text` is.
    public static func elements(of key: String, in text: Data) -> [Data]? {
        members(text)?.first { $0.key == key }.flatMap { elements($0.value) }
    }

    /// A JSON string's value, a number's or literal's text, nil for `null`; objects and arrays
    /// as they are.
    public static func plain(_ value: Data) -> String? {
        guard let first = value.first else { return "" }
        if first == UInt8(ascii: "\"") {
            return (try? JSONSerialization.jsonObject(with: value, options: .fragmentsAllowed)) as? String
        }
        let text = String(decoding: value, as: UTF8.self)
        return text == "null" ? nil : text
    }

    private struct Scanner {
        static let delimiters = Set(",]} \t\r\n".utf8)
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool {
            mutating get {
                skipSpace()
                return index == bytes.count
            }
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func take(_ byte: Character) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == byte.asciiValue! else { return false }
            index += 1
            return true
        }

        mutating func object() -> [(key: String, value: ArraySlice<UInt8>)]? {
            guard take("{") else { return nil }
            var members: [(key: String, value: ArraySlice<UInt8>)] = []
            if take("}") { return members }
            repeat {
                skipSpace()
                guard let keyText = value(), let key = RawJSON.plain(Data(keyText)), keyText.first == UInt8(ascii: "\""),
                      take(":") else { return nil }
                skipSpace()
                guard let value = value() else { return nil }
                members.append((key, value))
            } while take(",")
            return take("}") ? members : nil
        }

        mutating func array() -> [ArraySlice<UInt8>]? {
            guard take("[") else { return nil }
            var elements: [ArraySlice<UInt8>] = []
            if take("]") { return elements }
            repeat {
                skipSpace()
                guard let value = value() else { return nil }
                elements.append(value)
            } while take(",")
            return take("]") ? elements : nil
        }

        /// One value from `index`, which stands on its first byte.
        mutating func value() -> ArraySlice<UInt8>? {
            let start = index
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard index < bytes.count else { return nil }
                index += 1
            case UInt8(ascii: "{"):
                guard object() != nil else { return nil }
            case UInt8(ascii: "["):
                guard array() != nil else { return nil }
            default:
                while index < bytes.count, !Self.delimiters.contains(bytes[index]) { index += 1 }
                guard index > start else { return nil }
            }
            return bytes[start..<index]
        }
    }
}
