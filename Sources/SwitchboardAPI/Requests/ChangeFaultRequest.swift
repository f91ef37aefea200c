import SwitchboardCore

/// `PATCH .../faults/{fault}`: new attributes (merged into the fault's) and a new toxicity, put
/// into effect on live connections. `name`, `type` and `direction` may be sent as they are
/// (a client that sends back the whole fault), never changed.
struct ChangeFaultRequest: StrictRequest {
    var name: String?
    var type: String?
    var direction: String?
    var toxicity: Double?
    var attributes: [String: Double]?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, type, direction, toxicity, attributes
    }

    /// Checks what the fault's own fields cannot become, then applies the change.
    func apply(to fault: inout Fault) throws(SwitchboardError) {
        if let name, name != fault.name {
            throw SwitchboardError(.invalidArgument, "name cannot be changed (it is '\(fault.name)'); delete the fault and add it again")
        }
        if let type, type != fault.type.name {
            throw SwitchboardError(.invalidArgument, "type cannot be changed (it is \(fault.type.name)); delete the fault and add it again")
        }
        if let direction, direction != fault.direction.rawValue {
            throw SwitchboardError(.invalidArgument, "direction cannot be changed (it is \(fault.direction.rawValue)); delete the fault and add it again")
        }
        if let toxicity { fault.toxicity = toxicity }
        if let attributes { fault.attributes.merge(attributes) { $1 } }
    }
}
