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
        let encoder = ValueEncoder(output: output, parent: nil, key: nil)
        try value.encode(to: encoder)
        encoder.finish()
        return output.bytes
    }

    struct NonFiniteNumber: Error, CustomStringConvertible {
        let description: String
    }
}

/// The bytes being written, shared by every encoder of one value.
///
/// Each method touches `bytes` once (one inout access): the class's dynamic exclusivity checks
/// per append were a measurable part of an answer.
private final class Output {
    var bytes: [UInt8] = []

    func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `,"key":` (the comma when not first), or just the comma for an array element.
    func element(key: String?, comma: Bool) {
        Self.element(&bytes, key: key, comma: comma)
    }

    private static func element(_ bytes: inout [UInt8], key: String?, comma: Bool) {
        if comma { bytes.append(UInt8(ascii: ",")) }
        guard let key else { return }
        string(&bytes, key)
        bytes.append(UInt8(ascii: ":"))
    }

    func string(_ text: String) {
        Self.string(&bytes, text)
    }

    private static func string(_ bytes: inout [UInt8], _ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Most keys and values need no escaping: one bulk copy after one tight scan.
            var plain = true
            for byte in utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                plain = false
                break
            }
            if plain {
                bytes.append(contentsOf: utf8)
            } else {
                escape(&bytes, utf8)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func escape(_ bytes: inout [UInt8], _ utf8: UnsafeBufferPointer<UInt8>) {
        let hex: StaticString = "0123456789abcdef"
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(0x5C); bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            case 0x08: bytes.append(0x5C); bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(0x5C); bytes.append(UInt8(ascii: "f"))
            case 0x00..<0x20:
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                hex.withUTF8Buffer { digits in
                    bytes.append(digits[Int(byte >> 4)])
                    bytes.append(digits[Int(byte & 0x0F)])
                }
            default:
                bytes.append(byte)
            }
        }
    }

    func integer<I: BinaryInteger>(_ value: I) {
        Self.integer(&bytes, value)
    }

    /// Digits written straight into the bytes: no String per number.
    private static func integer<I: BinaryInteger>(_ bytes: inout [UInt8], _ value: I) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        // The magnitude as UInt64 covers every integer type the answers use; wider ones take the
        // String path.
        guard let magnitude = UInt64(exactly: value.magnitude) else {
            bytes.append(contentsOf: String(value.magnitude).utf8)
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: 20 digits fit
        var count = 0
        var rest = magnitude
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                count += 1
                buffer[24 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
    }

    func number(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    func double(_ value: Double, _ path: @autoclosure () -> [any CodingKey]) throws {
        guard value.isFinite else {
            throw StreamingJSONEncoder.NonFiniteNumber(description: "\(value) at \(path().map(\.stringValue).joined(separator: ".")) is not a JSON number")
        }
        if value == value.rounded() && abs(value) < 1e15 {
            integer(Int64(value))
        } else {
            number(value.description)
        }
    }
}

/// One value's encoder: it opens an object or array when asked for a container and closes it in
/// `finish()`, after the value's `encode(to:)` has returned.
///
/// The coding path is kept as a parent and a key and only spelled out when asked for (errors):
/// building an array of keys for every nested value was a large part of an answer's cost.
private final class ValueEncoder: Encoder {
    enum Shape { case none, object, array }

    let output: Output
    /// Unowned: a parent keeps its open children in `nested`, and a strong link back would
    /// leak both when an `encode(to:)` throws before `finish()`. The root outlives them all.
    private unowned let parent: ValueEncoder?
    private let key: (any CodingKey)?
    var codingPath: [any CodingKey] {
        var path = parent?.codingPath ?? []
        if let key { path.append(key) }
        return path
    }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private(set) var shape = Shape.none
    /// Elements written into the open container, for the commas.
    var count = 0
    /// Containers opened by `nestedContainer`, closed before the next element and at the end.
    var nested: [ValueEncoder] = []

    init(output: Output, parent: ValueEncoder?, key: (any CodingKey)?) {
        self.output = output
        self.parent = parent
        self.key = key
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
        guard !nested.isEmpty else { return }
        for encoder in nested { encoder.finish() }
        nested.removeAll()
    }

    /// Before an element: the comma, and the key inside an object.
    func element(key: String?) {
        closeNested()
        output.element(key: key, comma: count > 0)
        count += 1
    }

    /// A child encoder for a nested value, whose path is this one's plus `key`.
    func child(_ key: (any CodingKey)?) -> ValueEncoder {
        ValueEncoder(output: output, parent: self, key: key)
    }

    /// `key` is nil for the value of a single-value container, which has its encoder's path.
    func value<T: Encodable>(_ value: T, key: @autoclosure () -> (any CodingKey)?) throws {
        // Metatype comparisons, not `as?` casts: a failed dynamic cast per candidate type was
        // most of the generic path's cost.
        if T.self == String.self { return output.string(Self.cast(value, to: String.self)) }
        if T.self == Int.self { return output.integer(Self.cast(value, to: Int.self)) }
        if T.self == Bool.self { return output.append(Self.cast(value, to: Bool.self) ? "true" : "false") }
        if T.self == UInt64.self { return output.integer(Self.cast(value, to: UInt64.self)) }
        if T.self == Int64.self { return output.integer(Self.cast(value, to: Int64.self)) }
        if T.self == Double.self { return try output.double(Self.cast(value, to: Double.self), path(key())) }
        if T.self == Float.self { return try output.double(Double(Self.cast(value, to: Float.self)), path(key())) }
        let child = child(key())
        try value.encode(to: child)
        child.finish()
    }

    private func path(_ key: (any CodingKey)?) -> [any CodingKey] {
        key.map { codingPath + [$0] } ?? codingPath
    }

    /// `value` as the type its metatype was just compared equal to.
    @inline(__always)
    private static func cast<T, U>(_ value: T, to type: U.Type) -> U {
        withUnsafePointer(to: value) { $0.withMemoryRebound(to: U.self, capacity: 1) { $0.pointee } }
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
        encoder.element(key: key.stringValue)
        encoder.output.append("null")
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        encoder.element(key: key.stringValue)
        try encoder.value(value, key: key)
    }

    // The common types directly, without the generic path.
    mutating func encode(_ value: String, forKey key: Key) throws {
        encoder.element(key: key.stringValue)
        encoder.output.string(value)
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        encoder.element(key: key.stringValue)
        encoder.output.append(value ? "true" : "false")
    }

    mutating func encode(_ value: Int, forKey key: Key) throws {
        encoder.element(key: key.stringValue)
        encoder.output.integer(value)
    }

    mutating func encode(_ value: Int64, forKey key: Key) throws {
        encoder.element(key: key.stringValue)
        encoder.output.integer(value)
    }

    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        encoder.element(key: key.stringValue)
        encoder.output.integer(value)
    }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        encoder.element(key: key.stringValue)
        try encoder.output.double(value, encoder.codingPath + [key])
    }

    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        guard let value else { return }
        try encode(value, forKey: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        encoder.element(key: key.stringValue)
        let child = encoder.child(key)
        encoder.nested.append(child)
        return child.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        encoder.element(key: key.stringValue)
        let child = encoder.child(key)
        encoder.nested.append(child)
        return child.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        encoder.element(key: SuperKey().stringValue)
        let child = encoder.child(SuperKey())
        encoder.nested.append(child)
        return child
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        encoder.element(key: key.stringValue)
        let child = encoder.child(key)
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
        try encoder.value(value, key: Index(index))
    }

    mutating func encode(_ value: String) throws {
        encoder.element(key: nil)
        encoder.output.string(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let index = encoder.count
        encoder.element(key: nil)
        let child = encoder.child(Index(index))
        encoder.nested.append(child)
        return child.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let index = encoder.count
        encoder.element(key: nil)
        let child = encoder.child(Index(index))
        encoder.nested.append(child)
        return child.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let index = encoder.count
        encoder.element(key: nil)
        let child = encoder.child(Index(index))
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
        // Every other integer type writes itself through a single-value container: written
        // here, or it would come back through `value` for ever. Checked only here, where the
        // conformance look-up is paid by such integers alone.
        if let number = value as? any BinaryInteger { return encoder.output.integer(number) }
        try encoder.value(value, key: nil)
    }

    mutating func encode(_ value: String) throws {
        encoder.count += 1
        encoder.output.string(value)
    }

    // The standard library's defaults for these throw "not implemented".
    @available(macOS 15.0, *)
    mutating func encode(_ value: Int128) throws {
        encoder.count += 1
        encoder.output.integer(value)
    }

    @available(macOS 15.0, *)
    mutating func encode(_ value: UInt128) throws {
        encoder.count += 1
        encoder.output.integer(value)
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
