/// One value's encoder: it opens an object or array when asked for a container and closes it in
/// `finish()`, after the value's `encode(to:)` has returned.
///
/// The coding path is kept as a parent and a key and only spelled out when asked for (errors):
/// building an array of keys for every nested value was a large part of an answer's cost.
final class JSONValueEncoder: Encoder {
    enum Shape { case none, object, array }

    let output: JSONOutput
    /// Unowned: a parent keeps its open children in `nested`, and a strong link back would
    /// leak both when an `encode(to:)` throws before `finish()`. The root outlives them all.
    private unowned let parent: JSONValueEncoder?
    private let key: (any CodingKey)?
    var codingPath: [any CodingKey] {
        var path = parent?.codingPath ?? []
        if let key { path.append(key) }
        return path
    }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    // Unchecked, like `JSONOutput`'s state: touched on every element, by one thread.
    @exclusivity(unchecked) private(set) var shape = Shape.none
    /// Elements written into the open container, for the commas.
    @exclusivity(unchecked) var count = 0
    /// Containers opened by `nestedContainer`, closed before the next element and at the end.
    @exclusivity(unchecked) var nested: [JSONValueEncoder] = []

    init(output: JSONOutput, parent: JSONValueEncoder?, key: (any CodingKey)?) {
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
        output.open(wanted == .object ? "{" : "[")
    }

    func finish() {
        closeNested()
        switch shape {
        case .object: output.close("}", elements: count)
        case .array: output.close("]", elements: count)
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
    func child(_ key: (any CodingKey)?) -> JSONValueEncoder {
        JSONValueEncoder(output: output, parent: self, key: key)
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
        return KeyedEncodingContainer(JSONKeyedContainer<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        open(.array)
        return JSONUnkeyedContainer(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONSingleValueContainer(encoder: self)
    }
}
