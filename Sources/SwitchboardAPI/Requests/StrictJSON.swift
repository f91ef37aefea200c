import CJansson
import NIOCore

/// Checks a body with libjansson: well-formed JSON, an object at the top, no key twice, no
/// unknown key, nesting no deeper than `maxDepth`.
enum StrictJSON {
    static func check(_ body: ByteBuffer, allowedKeys: Set<String>, nested: [String: any StrictRequestShape.Type], maxDepth: Int) throws(APIError) {
        guard body.readableBytes > 0 else {
            throw APIError(.badRequest, "empty_body", "the request needs a JSON object as its body")
        }
        var error = json_error_t()
        let flags = Int(JSON_REJECT_DUPLICATES) | Int(JSON_DECODE_ANY) | Int(JSON_ALLOW_NUL)
        let parsed = body.withUnsafeReadableBytes { bytes in
            json_loadb(bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count, Int(flags), &error)
        }
        guard let root = parsed else { throw Self.parseError(error, maxDepth: maxDepth) }
        defer { json_decref(root) }
        guard root.pointee.type == JSON_OBJECT else {
            throw APIError(.badRequest, "not_an_object", "the body must be a JSON object, not \(Self.typeName(root))")
        }
        try checkDepth(root, depth: 1, maxDepth: maxDepth)
        try checkKeys(root, allowed: allowedKeys, nested: nested, path: "")
    }

    private static func checkKeys(_ object: UnsafeMutablePointer<json_t>, allowed: Set<String>, nested: [String: any StrictRequestShape.Type], path: String) throws(APIError) {
        var iterator = json_object_iter(object)
        while let it = iterator {
            let key = String(cString: json_object_iter_key(it))
            let fullPath = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                let known = allowed.sorted().joined(separator: ", ")
                throw APIError(.badRequest, "unknown_field", "unknown field '\(fullPath)'; known fields: \(known)")
            }
            if let shape = nested[key], let value = json_object_iter_value(it) {
                // An object of that shape, or an array of them (`faults`), each element named by its index.
                if value.pointee.type == JSON_OBJECT {
                    try checkKeys(value, allowed: shape.allowedKeys, nested: shape.nestedShapes, path: fullPath)
                } else if value.pointee.type == JSON_ARRAY {
                    for index in 0..<json_array_size(value) {
                        guard let element = json_array_get(value, index), element.pointee.type == JSON_OBJECT else { continue }
                        try checkKeys(element, allowed: shape.allowedKeys, nested: shape.nestedShapes, path: "\(fullPath).\(index)")
                    }
                }
            }
            iterator = json_object_iter_next(object, it)
        }
    }

    private static func checkDepth(_ value: UnsafeMutablePointer<json_t>, depth: Int, maxDepth: Int) throws(APIError) {
        guard depth <= maxDepth else {
            throw APIError(.badRequest, "too_deep", "the body nests deeper than \(maxDepth) levels")
        }
        switch value.pointee.type {
        case JSON_OBJECT:
            var iterator = json_object_iter(value)
            while let it = iterator {
                if let child = json_object_iter_value(it) { try checkDepth(child, depth: depth + 1, maxDepth: maxDepth) }
                iterator = json_object_iter_next(value, it)
            }
        case JSON_ARRAY:
            for index in 0..<json_array_size(value) {
                if let child = json_array_get(value, index) { try checkDepth(child, depth: depth + 1, maxDepth: maxDepth) }
            }
        default:
            break
        }
    }

    private static func parseError(_ error: json_error_t, maxDepth: Int) -> APIError {
        var error = error
        let text = withUnsafeBytes(of: &error.text) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if text.hasPrefix("duplicate object key") {
            // jansson: "duplicate object key near '"name"'"
            let key = text.split(separator: "'").dropFirst().first.map { String($0).trimmingQuotes } ?? "?"
            return APIError(.badRequest, "duplicate_key", "key '\(key)' appears more than once")
        }
        if text.hasPrefix("too big integer") || text.hasPrefix("real number overflow") {
            return APIError(.badRequest, "invalid_value", "a number at line \(error.line), column \(error.column) is too large")
        }
        if text.hasPrefix("maximum parsing depth reached") {
            return APIError(.badRequest, "too_deep", "the body nests deeper than \(maxDepth) levels")
        }
        return APIError(.badRequest, "malformed_json", "malformed JSON at line \(error.line), column \(error.column): \(text)")
    }

    private static func typeName(_ value: UnsafeMutablePointer<json_t>) -> String {
        switch value.pointee.type {
        case JSON_ARRAY: "an array"
        case JSON_STRING: "a string"
        case JSON_INTEGER, JSON_REAL: "a number"
        case JSON_TRUE, JSON_FALSE: "a boolean"
        case JSON_NULL: "null"
        default: "an object"
        }
    }
}

private extension String {
    var trimmingQuotes: String {
        var text = Substring(self)
        while text.first == "\"" { text = text.dropFirst() }
        while text.last == "\"" { text = text.dropLast() }
        return String(text)
    }
}
