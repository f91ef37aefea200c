struct JSONSingleValueContainer: SingleValueEncodingContainer {
    let encoder: JSONValueEncoder
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
