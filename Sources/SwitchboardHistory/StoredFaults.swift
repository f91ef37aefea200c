import Foundation
import SwitchboardCore

/// A listener's or a reconnecting session's faults as stored with it: a JSON array in the API's
/// shape (`name`, `type`, `direction`, `toxicity`, `attributes`: the ones given), NULL for none.
public enum StoredFaults {
    struct Entry: Codable {
        var name: String
        var type: String
        var direction: String
        var toxicity: Double
        var attributes: [String: Double]
    }

    public static func encode(_ faults: [Fault]) -> String? {
        guard !faults.isEmpty else { return nil }
        let entries = faults.map { Entry(name: $0.name, type: $0.type.name, direction: $0.direction.rawValue, toxicity: $0.toxicity, attributes: $0.attributes) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(entries)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The faults this build can carry out, and what it cannot understand in the rest (a type
    /// or a direction it does not know, an attribute out of its range): such an entry makes
    /// the listener or session come back failed or stopped with that reason, never restored
    /// without the fault its operator asked for.
    static func decode(_ text: String?) -> (faults: [Fault], problem: String?) {
        guard let text else { return ([], nil) }
        let entries: [Entry]
        do {
            entries = try JSONDecoder().decode([Entry].self, from: Data(text.utf8))
        } catch {
            return ([], "the stored faults cannot be read: \(error)")
        }
        var faults: [Fault] = []
        var problems: [String] = []
        for entry in entries {
            guard let type = FaultType(rawValue: entry.type) else {
                problems.append("the stored fault '\(entry.name)' has a type this service does not know ('\(entry.type)'; known: \(FaultType.names))")
                continue
            }
            guard let direction = FaultDirection(rawValue: entry.direction) else {
                problems.append("the stored fault '\(entry.name)' has a direction this service does not know ('\(entry.direction)')")
                continue
            }
            let fault = Fault(name: entry.name, type: type, direction: direction, toxicity: entry.toxicity, attributes: entry.attributes)
            do {
                try fault.validate()
            } catch {
                problems.append("the stored fault '\(entry.name)' cannot be carried out: \(error.message)")
                continue
            }
            faults.append(fault)
        }
        return (faults, problems.isEmpty ? nil : problems.joined(separator: "; "))
    }
}
