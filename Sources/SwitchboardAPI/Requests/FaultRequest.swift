import SwitchboardCore

/// A fault as `POST .../faults` takes it, and as each element of `faults` in the body that
/// creates a listener or a session: `{"name", "type", "direction", "toxicity", "attributes"}`.
/// Only `type` is required. Which attributes a type has, and their ranges, are the core's
/// (`Fault.validate`): this type only reads them as numbers.
struct FaultRequest: StrictRequest, StrictRequestShape {
    var name: String?
    var type: String
    var direction: String?
    var toxicity: Double?
    /// Free keys, so not a nested shape: the core names an attribute its type does not have.
    var attributes: [String: Double]?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, type, direction, toxicity, attributes
    }

    /// The fault asked for; `field` prefixes the names in refusals (`faults.0.`).
    func fault(field: String = "") throws(APIError) -> Fault {
        let type = try Self.type(self.type, field: field)
        let direction = try Self.direction(self.direction, field: field) ?? .downstream
        // Toxiproxy's default name, TYPE_STREAM, so that one fault of each kind needs none.
        let name = name ?? "\(type.name)_\(direction.rawValue)"
        return Fault(name: name, type: type, direction: direction, toxicity: toxicity ?? 1.0, attributes: attributes ?? [:])
    }

    static func type(_ text: String, field: String = "") throws(APIError) -> FaultType {
        guard let type = FaultType(rawValue: text) else {
            throw APIError.invalid("\(field)type must be one of \(FaultType.names), not '\(text)'")
        }
        return type
    }

    static func direction(_ text: String?, field: String = "") throws(APIError) -> FaultDirection? {
        guard let text else { return nil }
        guard let direction = FaultDirection(rawValue: text) else {
            throw APIError.invalid("\(field)direction must be upstream or downstream, not '\(text)'")
        }
        return direction
    }
}

extension Array where Element == FaultRequest {
    /// The `faults` of a create body, each checked by the core's rules with its place named
    /// (`faults.1.attributes.rate ...`). Two of one name are left to the core (409).
    func faults() throws -> [Fault] {
        try enumerated().map { index, request throws -> Fault in
            let field = "faults.\(index)."
            let fault = try request.fault(field: field)
            do throws(SwitchboardError) {
                try fault.validate()
            } catch {
                throw SwitchboardError(error.kind, Self.prefixed(error.message, field))
            }
            return fault
        }
    }

    /// The core's messages start with the field they are about (`toxicity must ...`,
    /// `attributes.rate must ...`), or say which fault (`fault name must ...`).
    private static func prefixed(_ message: String, _ field: String) -> String {
        message.hasPrefix("toxicity") || message.hasPrefix("attributes") ? field + message : "\(field.dropLast()): \(message)"
    }
}
