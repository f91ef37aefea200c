struct JSONKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: JSONValueEncoder
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

    // Synthesized `encode(to:)` hands every optional property to `encodeIfPresent`, whose
    // standard default leaves the key out: here an absent value is written as null instead, so
    // no answer type needs a hand-written `encode(to:)` to keep its keys. Every overload is
    // spelled out, or the standard default (which skips) would be called for that type.
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try generic(value, forKey: key) }
    // The common types to their own `encode`, without the generic path.
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) } }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) } }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) } }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) } }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) } }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) } }

    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try generic(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try generic(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try generic(value, forKey: key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try generic(value, forKey: key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try generic(value, forKey: key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try generic(value, forKey: key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try generic(value, forKey: key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try generic(value, forKey: key) }

    @available(macOS 15.0, *)
    mutating func encodeIfPresent(_ value: Int128?, forKey key: Key) throws { try generic(value, forKey: key) }

    @available(macOS 15.0, *)
    mutating func encodeIfPresent(_ value: UInt128?, forKey key: Key) throws { try generic(value, forKey: key) }

    /// Straight to the value path: `encode(_:forKey:)` would pick the standard default of the
    /// concrete type, which for some (Int128) throws.
    private mutating func generic<T: Encodable>(_ value: T?, forKey key: Key) throws {
        guard let value else { return try encodeNil(forKey: key) }
        encoder.element(key: key.stringValue)
        try encoder.value(value, key: key)
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
        encoder.element(key: JSONSuperKey().stringValue)
        let child = encoder.child(JSONSuperKey())
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

/// The key `superEncoder()` writes under, as Foundation's encoder does.
struct JSONSuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}
