import NIOCore

/// A fault as an operator defines it on a listener, a named reconnecting session or one live
/// session.
public struct Fault: Sendable, Equatable {
    /// Unique on its target.
    public var name: String
    public var type: FaultType
    public var direction: FaultDirection
    /// The chance (0.0-1.0) that the fault applies to a connection, drawn once for each
    /// connection when the fault meets it: at its accept or connect, or when the fault is added
    /// or changed while the connection is open.
    public var toxicity: Double
    /// The type's attributes by name; one not given is 0.
    public var attributes: [String: Double]

    public init(name: String, type: FaultType, direction: FaultDirection = .downstream, toxicity: Double = 1.0, attributes: [String: Double] = [:]) {
        self.name = name
        self.type = type
        self.direction = direction
        self.toxicity = toxicity
        self.attributes = attributes
    }

    public subscript(_ attribute: String) -> Double { attributes[attribute] ?? 0 }

    /// Faults on one listener or session: enough for any test, few enough that their sum of
    /// delays stays a number.
    public static let maxPerTarget = 64

    /// The attributes of its type in their order, given or not (a missing one as 0).
    public var orderedAttributes: [(name: String, value: Double, fraction: Bool)] {
        type.attributes.map { ($0.name, self[$0.name], $0.fraction) }
    }

    /// Refuses what the fault stage could not carry out, naming the field.
    public func validate() throws(SwitchboardError) {
        do {
            try ListenerSpec.validateName(name)
        } catch {
            throw SwitchboardError(.invalidArgument, "fault name must be 1-64 characters of A-Z a-z 0-9 . _ - and not start with '.'")
        }
        guard toxicity.isFinite, (0...1).contains(toxicity) else {
            throw SwitchboardError(.invalidArgument, "toxicity must be from 0.0 to 1.0")
        }
        let known = type.attributes
        for (key, value) in attributes {
            guard let attribute = known.first(where: { $0.name == key }) else {
                let list = known.isEmpty ? "it takes none" : "known: " + known.map(\.name).joined(separator: ", ")
                throw SwitchboardError(.invalidArgument, "attributes.\(key) is not an attribute of \(type.name) (\(list))")
            }
            let range = attribute.fraction ? "a number from 0.0 to 1.0" : "a whole number from 0 to \(Int64(attribute.max))"
            guard value.isFinite, value >= 0, value <= attribute.max, attribute.fraction || value.rounded() == value else {
                throw SwitchboardError(.invalidArgument, "attributes.\(key) must be \(range) (\(attribute.unit))")
            }
        }
        switch type {
        case .slicer where self["size_variation"] > 0 && self["size_variation"] >= self["average_size"]:
            throw SwitchboardError(.invalidArgument, "attributes.size_variation must be less than attributes.average_size")
        case .corrupt where self["probability"] > 0 && self["count"] > 0:
            throw SwitchboardError(.invalidArgument, "attributes: give corrupt either probability or count, not both")
        default:
            break
        }
    }

    /// Milliseconds as a Duration.
    func milliseconds(_ attribute: String) -> TimeAmount { .milliseconds(Int64(self[attribute])) }
}

extension Array where Element == Fault {
    /// Refuses a list with two faults of one name, or any fault `validate` refuses.
    public func validate() throws(SwitchboardError) {
        guard count <= Fault.maxPerTarget else {
            throw SwitchboardError(.invalidArgument, "a listener or session takes at most \(Fault.maxPerTarget) faults")
        }
        var names = Set<String>()
        for fault in self {
            try fault.validate()
            guard names.insert(fault.name).inserted else {
                throw SwitchboardError(.nameTaken, "a fault named '\(fault.name)' is given twice")
            }
        }
    }
}
