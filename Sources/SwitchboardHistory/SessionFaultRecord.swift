import Foundation
import SwitchboardCore

/// One entry of a session's fault log, as the history keeps it and every answer shows it:
/// `{"name", "type", "direction", "applied", "at"}`. Plain text: a row that a later build wrote,
/// with a type this one does not know, still reads.
public struct SessionFaultRecord: Codable, Sendable, Equatable {
    public var name: String
    public var type: String
    public var direction: String
    /// False when its toxicity draw said the fault passes this session by.
    public var applied: Bool
    public var at: String

    public init(name: String, type: String, direction: String, applied: Bool, at: String) {
        self.name = name
        self.type = type
        self.direction = direction
        self.applied = applied
        self.at = at
    }

    public init(_ fault: SessionFault) {
        self.init(name: fault.name, type: fault.type.name, direction: fault.direction.rawValue, applied: fault.applied, at: RFC3339.format(fault.at))
    }

    /// The `faults` column (and CSV field): a JSON array with the keys in the answers' order, or
    /// NULL for a session no fault met. Written by hand: Foundation's encoder orders keys at random.
    public static func column(_ log: [SessionFaultRecord]) -> String? {
        guard !log.isEmpty else { return nil }
        var text = "["
        for (index, entry) in log.enumerated() {
            if index > 0 { text += "," }
            text += #"{"name":"# + quoted(entry.name)
            text += #","type":"# + quoted(entry.type)
            text += #","direction":"# + quoted(entry.direction)
            text += #","applied":"# + (entry.applied ? "true" : "false")
            text += #","at":"# + quoted(entry.at) + "}"
        }
        return text + "]"
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// What the column holds; a value that is not such an array reads as none, never as a
    /// failed query.
    public static func log(column text: String?) -> [SessionFaultRecord] {
        guard let text, let log = try? JSONDecoder().decode([SessionFaultRecord].self, from: Data(text.utf8)) else { return [] }
        return log
    }
}
