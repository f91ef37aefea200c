import SwitchboardCore

/// A toxic is a fault on a proxy's listener: Toxiproxy's `stream` is the fault's direction.
enum Toxic {
    /// `{"attributes", "name", "type", "stream", "toxicity"}`, the order of Toxiproxy's
    /// ToxicWrapper; every attribute of the type, a missing one as its 0.
    static func json(_ fault: Fault) -> ToxiproxyJSON {
        .object([
            ("attributes", .object(fault.orderedAttributes.map { ($0.name, .number($0.value)) })),
            ("name", .string(fault.name)),
            ("type", .string(fault.type.name)),
            ("stream", .string(fault.direction.rawValue)),
            ("toxicity", .number(fault.toxicity)),
        ])
    }

    /// Toxiproxy lists a proxy's upstream chain first, then its downstream one, each in the
    /// order its toxics were added.
    static func ordered(_ faults: [Fault]) -> [Fault] {
        faults.filter { $0.direction == .upstream } + faults.filter { $0.direction == .downstream }
    }

    static func list(_ faults: [Fault]) -> ToxiproxyJSON { .array(ordered(faults).map(json)) }
}
