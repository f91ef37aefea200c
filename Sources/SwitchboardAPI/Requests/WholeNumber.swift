
/// An integer field. Foundation reports `1.5` for an `Int` without saying which field it was;
/// decoding the number first keeps the field's name in the error.
struct WholeNumber: Decodable, Sendable {
    let value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let number = try container.decode(Double.self)
        guard let value = Int(exactly: number) else {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath, debugDescription: "\(number) is not a whole number"))
        }
        self.value = value
    }
}
