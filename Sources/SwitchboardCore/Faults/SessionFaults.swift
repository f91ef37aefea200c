import Foundation

/// The faults that bear on one session: those of where it came from (its listener or its
/// reconnecting name) and its own, each drawn against its toxicity once, and the log of those
/// draws that goes into the history.
struct SessionFaults {
    /// The listener's or the reconnecting session's faults, as of the last change.
    var inherited: [Fault] = []
    /// Aimed at this session alone.
    var own: [Fault] = []
    /// Each fault's definition as last drawn and whether it applies; a changed definition is
    /// drawn again.
    private var draws: [Key: (fault: Fault, applies: Bool)] = [:]
    private(set) var log: [SessionFault] = []
    static let maxLog = 64

    struct Key: Hashable {
        let own: Bool
        let name: String
    }

    var isEmpty: Bool { inherited.isEmpty && own.isEmpty }

    /// The faults that apply now, inherited first, each in the order added; `drawn` gets each
    /// new draw.
    mutating func applying(at now: Date, drawn: (SessionFault) -> Void) -> [Fault] {
        var applying: [Fault] = []
        var seen = Set<Key>()
        for (isOwn, faults) in [(false, inherited), (true, own)] {
            for fault in faults {
                let key = Key(own: isOwn, name: fault.name)
                seen.insert(key)
                if let draw = draws[key], draw.fault == fault {
                    if draw.applies { applying.append(fault) }
                    continue
                }
                let applies = fault.toxicity >= 1 || Double.random(in: 0..<1) < fault.toxicity
                draws[key] = (fault, applies)
                let record = SessionFault(name: fault.name, type: fault.type, direction: fault.direction, applied: applies, at: now)
                // A fault changed over and over on a long session keeps its first draws and
                // its latest: the history row stays small.
                if log.count >= Self.maxLog { log.remove(at: Self.maxLog / 2) }
                log.append(record)
                drawn(record)
                if applies { applying.append(fault) }
            }
        }
        if draws.count > seen.count { draws = draws.filter { seen.contains($0.key) } }
        return applying
    }
}
