import SwitchboardCore

/// A fault as every answer shows it: every attribute of its type, in the type's order, a
/// missing one as the 0 it means.
struct FaultResponse: Encodable {
    let fault: Fault

    enum CodingKeys: String, CodingKey {
        case name, type, direction, toxicity, attributes
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fault.name, forKey: .name)
        try c.encode(fault.type.name, forKey: .type)
        try c.encode(fault.direction.rawValue, forKey: .direction)
        try c.encode(fault.toxicity, forKey: .toxicity)
        try c.encode(Attributes(fault: fault), forKey: .attributes)
    }

    private struct Attributes: Encodable {
        let fault: Fault

        struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            for attribute in fault.orderedAttributes {
                try c.encode(attribute.value, forKey: Key(stringValue: attribute.name))
            }
        }
    }
}

/// `GET .../faults`: in the order they were added.
struct FaultList: Encodable {
    let faults: [FaultResponse]

    init(_ faults: [Fault]) { self.faults = faults.map(FaultResponse.init) }
}
