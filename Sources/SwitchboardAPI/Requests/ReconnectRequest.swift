
/// `"reconnect": {"initial_ms": 100, "max_ms": 30000, "jitter": true}`
struct ReconnectRequest: StrictRequest, StrictRequestShape {
    var initialMs: WholeNumber?
    var maxMs: WholeNumber?
    var jitter: Bool?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case jitter
        case initialMs = "initial_ms"
        case maxMs = "max_ms"
    }
}
