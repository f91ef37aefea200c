/// The service's one JSON encoder: REST answers, live events and the NDJSON export (API and
/// CLI) all go through it, so a value reads the same on every path.
///
/// Two rules make every answer's shape: an absent optional is written as `null` (a script finds
/// every key, whether or not it has a value), and keys come out in the order the type's
/// `CodingKeys` declare them (the order synthesized `encode(to:)` writes them in).
///
/// Foundation's `JSONEncoder` first builds a tree of dictionaries and then serialises it;
/// profiling `GET /v1/listeners` showed that tree (generic metadata look-ups, hashing, dynamic
/// casts) as most of the request's cost. This encoder writes each key and value as
/// `encode(to:)` hands them over. Slashes are not escaped; other text is escaped as JSON
/// requires. Non-finite numbers are refused, as Foundation refuses them. `.indented` lays the
/// same keys out for a person (`?pretty`), as it writes them.
public enum StreamingJSONEncoder {
    public static func encode(_ value: some Encodable, style: JSONStyle = .compact) throws -> [UInt8] {
        let output = JSONOutput(style: style)
        output.bytes.reserveCapacity(1024)
        let encoder = JSONValueEncoder(output: output, parent: nil, key: nil)
        try value.encode(to: encoder)
        encoder.finish()
        return output.bytes
    }

    /// The JSON as text, for the line-oriented paths (an event's `data:` line, the CLI).
    public static func string(_ value: some Encodable) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    struct NonFiniteNumber: Error, CustomStringConvertible {
        let description: String
    }
}
