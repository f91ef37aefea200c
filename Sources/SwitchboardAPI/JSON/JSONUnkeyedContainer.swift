struct JSONUnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: JSONValueEncoder
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
