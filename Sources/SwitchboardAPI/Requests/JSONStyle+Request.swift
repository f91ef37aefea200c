import Hummingbird

extension JSONStyle {
    /// The query parameter that asks for `.indented`; every endpoint that answers JSON takes it.
    static let parameter = "pretty"

    /// What the request asks for: `pretty`, `pretty=`, `pretty=true` and `pretty=1` indent; any
    /// other value is refused (a typo should not pass for a choice).
    init(of request: borrowing Request) throws(APIError) {
        // Most requests have no query, and most queries no `pretty`: no parsing for them.
        guard let query = request.uri.query, query.contains(Self.parameter) else {
            self = .compact
            return
        }
        var asked: Substring?
        for (key, value) in request.uri.queryParameters where key == Self.parameter {
            guard asked == nil else {
                throw APIError(.badRequest, "duplicate_parameter", "query parameter '\(Self.parameter)' appears more than once")
            }
            asked = value
        }
        guard let asked else {
            self = .compact
            return
        }
        guard asked.isEmpty || asked == "true" || asked == "1" else {
            throw APIError.invalid("query parameter '\(Self.parameter)' must be true or 1, or have no value, not '\(asked)'")
        }
        self = .indented
    }
}
