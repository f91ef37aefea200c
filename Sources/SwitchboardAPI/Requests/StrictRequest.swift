
/// A request body type whose allowed keys are exactly its coding keys.
///
/// The strict check runs before Codable: Foundation's JSONDecoder silently keeps one of two
/// equal keys and ignores unknown ones, which lets a typo or a smuggled second value pass.
public protocol StrictRequest: Decodable, Sendable {
    associatedtype Field: CodingKey & CaseIterable
    /// Fields whose value is an object with strict keys of its own.
    static var nested: [String: any StrictRequestShape.Type] { get }
}

/// The part of `StrictRequest` the checker needs, without its associated type.
public protocol StrictRequestShape {
    static var allowedKeys: Set<String> { get }
    static var nestedShapes: [String: any StrictRequestShape.Type] { get }
}

extension StrictRequest {
    public static var nested: [String: any StrictRequestShape.Type] { [:] }
}

extension StrictRequest {
    public static var allowedKeys: Set<String> { Set(Field.allCases.map(\.stringValue)) }
    public static var nestedShapes: [String: any StrictRequestShape.Type] { nested }
}
