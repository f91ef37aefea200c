import SwitchboardCore

extension Toxic {
    /// The fault a `POST /proxies/{p}/toxics` body asks for, checked in Toxiproxy's order:
    /// the stream, then the type, then the name against `taken` (unique across both streams),
    /// then the attributes. Missing attributes are 0 and unknown ones are ignored; the core's
    /// own rules (toxicity 0.0-1.0, attribute ranges) are 400s with its words.
    static func fault(from input: ToxicInput, taken: (String) -> Bool) throws(ToxiproxyError) -> Fault {
        let stream = input.stream ?? "downstream"
        guard let direction = FaultDirection(rawValue: stream.lowercased()) else { throw ToxiproxyError.invalidStream }
        let typeName = input.type ?? ""
        let name = (input.name ?? "").isEmpty ? "\(typeName)_\(stream)" : input.name!
        guard let type = FaultType(rawValue: typeName) else { throw ToxiproxyError.invalidToxicType }
        guard !taken(name) else { throw ToxiproxyError.toxicExists }
        var fault = Fault(name: name, type: type, direction: direction, toxicity: input.toxicity ?? 1.0)
        try merge(input.attributes, into: &fault)
        try check(fault)
        return fault
    }

    /// `POST /proxies/{p}/toxics/{t}`: the attributes given are merged into the fault's own,
    /// and its toxicity replaced when given; its name, type and stream stay.
    static func change(_ fault: inout Fault, with input: ToxicInput) throws(ToxiproxyError) {
        try merge(input.attributes, into: &fault)
        if let toxicity = input.toxicity { fault.toxicity = toxicity }
        try check(fault)
    }

    private static func merge(_ attributes: [String: AttributeValue]?, into fault: inout Fault) throws(ToxiproxyError) {
        guard let attributes else { return }
        for attribute in fault.type.attributes {
            switch attributes[attribute.name] {
            case .number(let value)?: fault.attributes[attribute.name] = value
            case .other?: throw ToxiproxyError.badBody("attributes.\(attribute.name) must be a number (\(attribute.unit))")
            case .null?, nil: break
            }
        }
    }

    private static func check(_ fault: Fault) throws(ToxiproxyError) {
        do {
            try fault.validate()
        } catch {
            throw ToxiproxyError(.badRequest, error.message)
        }
    }
}
