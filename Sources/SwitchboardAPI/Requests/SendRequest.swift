
/// `POST /v1/sessions/{id}/send` with a JSON body.
struct SendRequest: StrictRequest {
    var data: String
    var encoding: String?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case data, encoding
    }
}
