import Hummingbird

/// The query string of a request, with every parameter checked: unknown ones are refused.
/// `pretty` is one of every endpoint's that answers JSON (`answersJSON`); the responder has
/// read it already (`JSONStyle`).
struct Query {
    private let values: [String: String]

    init(_ request: borrowing Request, allowed: Set<String>, answersJSON: Bool = true) throws(APIError) {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            let key = String(key)
            guard allowed.contains(key) || (answersJSON && key == JSONStyle.parameter) else {
                let names = answersJSON ? allowed.union([JSONStyle.parameter]) : allowed
                let known = names.isEmpty ? "none" : names.sorted().joined(separator: ", ")
                throw APIError(.badRequest, "unknown_parameter", "unknown query parameter '\(key)'; known: \(known)")
            }
            guard values[key] == nil else {
                throw APIError(.badRequest, "duplicate_parameter", "query parameter '\(key)' appears more than once")
            }
            values[key] = String(value)
        }
        self.values = values
    }

    subscript(_ key: String) -> String? { values[key] }

    func bool(_ key: String, default value: Bool = false) throws(APIError) -> Bool {
        guard let text = values[key] else { return value }
        switch text.lowercased() {
        case "true", "1", "yes", "": return true
        case "false", "0", "no": return false
        default: throw APIError.invalid("query parameter '\(key)' must be true or false, not '\(text)'")
        }
    }

    func integer(_ key: String, in range: ClosedRange<UInt64>) throws(APIError) -> UInt64? {
        guard let text = values[key] else { return nil }
        guard let value = UInt64(text), range.contains(value) else {
            throw APIError.invalid("query parameter '\(key)' must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    func seconds(_ key: String, max: Double) throws(APIError) -> Double? {
        guard let text = values[key] else { return nil }
        guard let value = Double(text), value.isFinite, value >= 0, value <= max else {
            throw APIError.invalid("query parameter '\(key)' must be a number of seconds from 0 to \(Int(max)), not '\(text)'")
        }
        return value
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, as type: T.Type) throws(APIError) -> T? where T.RawValue == String {
        guard let text = values[key] else { return nil }
        guard let value = T(rawValue: text) else {
            let names = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.invalid("query parameter '\(key)' must be one of \(names), not '\(text)'")
        }
        return value
    }
}
