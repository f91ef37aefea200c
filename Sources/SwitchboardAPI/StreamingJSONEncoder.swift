/// Writes an `Encodable` value as compact JSON straight into bytes.
///
/// Foundation's `JSONEncoder` first builds a tree of dictionaries and then serialises it;
/// profiling `GET /v1/listeners` showed that tree (generic metadata look-ups, hashing, dynamic
/// casts) as most of the request's cost. This encoder writes each key and value as
/// `encode(to:)` hands them over, so keys come out in the order the types write them (every
/// answer type writes all its keys, in a fixed order). Slashes are not escaped; other text is
/// escaped as JSON requires. Non-finite numbers are refused, as Foundation refuses them.
enum StreamingJSONEncoder {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let output = Output()
        output.bytes.reserveCapacity(1024)
        let encoder = ValueEncoder(output: output, codingPath: [])
        try value.encode(to: encoder)
        encoder.finish()
        return output.bytes
    }

    struct NonFiniteNumber: Error, CustomStringConvertible {
        let description: String
    }
}

/// The bytes being written, shared by every encoder of one value.
private final class Output {
    var bytes: [UInt8] = []

    func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            // Most keys and values: one bulk copy, no per-byte appends.
            bytes.append(contentsOf: text.utf8)
        } else {
            escape(text)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private func escape(_ text: String) {
        var escaped: [UInt8] = []
        escaped.reserveCapacity(text.utf8.count + 16)
        let hex = Array("0123456789abcdef".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): escaped.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): escaped.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: escaped.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: escaped.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: escaped.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: escaped.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: escaped.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x00..<0x20:
                escaped.append(contentsOf: Array("\\u00".utf8))
                escaped.append(hex[Int(byte >> 4)])
                escaped.append(hex[Int(byte & 0x0F)])
            default:
                escaped.append(byte)
            }
        }
        bytes.append(contentsOf: escaped)
    }

    func number(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    func double(_ value: Double, _ path: [any CodingKey]) throws {
        guard value.isFinite else {
            throw StreamingJSONEncoder.NonFiniteNumber(description: "\(value) at \(path.map(\.stringValue).joined(separator: ".")) is not a JSON number")
        }
        number(value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : value.description)
    }
}

/// One value's encoder: it opens an object or array when asked for a container and closes it in
/// `finish()`, after the value's `encode(to:)` has returned.
private final class ValueEncoder: Encoder {
    enum Shape { case none, object, array }

    let output: Output
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private(set) var shape = Shape.none
    /// Elements written into the open container, for the commas.
    var count = 0
    /// Containers opened by `nestedContainer`, closed before the next element and at the end.
    var nested: [ValueEncoder] = []

    init(output: Output, codingPath: [any CodingKey]) {
        self.output = output
        self.codingPath = codingPath
    }

    func open(_ wanted: Shape) {
        // One value is one JSON value: a second, different container would write invalid JSON
        // (Foundation's encoder stops the same way). Only our own answer types get here.
        precondition(shape == .none || shape == wanted, "a value asked for two kinds of container at \(codingPath.map(\.stringValue))")
        precondition(shape != .none || count == 0, "a value asked for a container after writing a single value")
        guard shape == .none else { return }
        shape = wanted
        output.append(wanted == .object ? "{" : "[")
    }

    func finish() {
        closeNested()
        switch shape {
        case .object: output.append("}")
        case .array: output.append("]")
        case .none: if count == 0 { output.append("null") }
        }
    }

    func closeNested() {
        for encoder in nested { encoder.finish() }
        nested.removeAll()
    }

    /// Before an element: the comma, and the key inside an object.
    func element(key: (any CodingKey)?) {
        closeNested()
        if count > 0 { output.append(",") }
        count += 1
        if let key {
            output.string(key.stringValue)
            output.append(":")
        }
    }

    func value<T: Encodable>(_ value: T, path: [any CodingKey]) throws {
        switch value {
        case let text as String: output.string(text)
        case let flag as Bool: output.append(flag ? "true" : "false")
        case let number as Int: output.number(String(number))
        case let number as Int64: output.number(String(number))
        case let number as UInt64: output.number(String(number))
        case let number as UInt16: output.number(String(number))
        case let number as Double: try output.double(number, path)
        case let number as Float: try output.double(Double(number), path)
        // Every other integer type writes itself through a single-value container, which
        // would come back here: write it directly.
        case let number as any BinaryInteger: output.number("\(number)")
        default:
            let child = ValueEncoder(output: output, codingPath: path)
            try value.encode(to: child)
            child.finish()
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        open(.object)
        return KeyedEncodingContainer(Keyed<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        open(.array)
        return Unkeyed(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        Single(encoder: self)
    }
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: ValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil(forKey key: Key) throws {
        encoder.element(key: key)
        encoder.output.append("null")
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        encoder.element(key: key)
        try encoder.value(value, path: encoder.codingPath + [key])
    }

    // The common types directly, without the dynamic casts of the generic path.
    mutating func encode(_ value: String, forKey key: Key) throws {
        encoder.element(key: key)
        encoder.output.string(value)
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        encoder.element(key: key)
        encoder.output.append(value ? "true" : "false")
    }

    mutating func encode(_ value: Int, forKey key: Key) throws {
        encoder.element(key: key)
        encoder.output.number(String(value))
    }

    mutating func encode(_ value: Int64, forKey key: Key) throws {
        encoder.element(key: key)
        encoder.output.number(String(value))
    }

    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        encoder.element(key: key)
        encoder.output.number(String(value))
    }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        encoder.element(key: key)
        try encoder.output.double(value, encoder.codingPath + [key])
    }

    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        guard let value else { return }
        try encode(value, forKey: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        encoder.element(key: key)
        let child = ValueEncoder(output: encoder.output, codingPath: encoder.codingPath + [key])
        encoder.nested.append(child)
        return child.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        encoder.element(key: key)
        let child = ValueEncoder(output: encoder.output, codingPath: encoder.codingPath + [key])
        encoder.nested.append(child)
        return child.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        encoder.element(key: SuperKey())
        let child = ValueEncoder(output: encoder.output, codingPath: encoder.codingPath + [SuperKey()])
        encoder.nested.append(child)
        return child
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        encoder.element(key: key)
        let child = ValueEncoder(output: encoder.output, codingPath: encoder.codingPath + [key])
        encoder.nested.append(child)
        return child
    }
}

private struct Unkeyed: UnkeyedEncodingContainer {
    let encoder: ValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int { encoder.count }

    private struct Index: CodingKey {
        let intValue: Int?
        var stringValue: String { String(intValue ?? 0) }
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    mutating func encodeNil() throws {
        encoder.element(key: nil)
        encoder.output.append("null")
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = encoder.count
        encoder.element(key: nil)
        try encoder.value(value, path: encoder.codingPath + [Index(index)])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let index = encoder.count
        encoder.element(key: nil)
        let child = ValueEncoder(output: encoder.output, codingPath: encoder.codingPath + [Index(index)])
        encoder.nested.append(child)
        return child.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let index = encoder.count
        encoder.element(key: nil)
        let child = ValueEncoder(output: encoder.output, codingPath: encoder.codingPath + [Index(index)])
        encoder.nested.append(child)
        return child.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let index = encoder.count
        encoder.element(key: nil)
        let child = ValueEncoder(output: encoder.output, codingPath: encoder.codingPath + [Index(index)])
        encoder.nested.append(child)
        return child
    }
}

private struct Single: SingleValueEncodingContainer {
    let encoder: ValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws {
        encoder.count += 1
        encoder.output.append("null")
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.count += 1
        try encoder.value(value, path: encoder.codingPath)
    }

    mutating func encode(_ value: String) throws {
        encoder.count += 1
        encoder.output.string(value)
    }
}

/// The key `superEncoder()` writes under, as Foundation's encoder does.
private struct SuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}
