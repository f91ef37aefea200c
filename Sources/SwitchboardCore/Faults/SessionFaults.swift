import Foundation

/// The faults that bear on one session: those of where it came from (its listener or its
/// reconnecting name) and its own, each drawn against its toxicity once, and the log of those
/// draws that goes into the history.
///
/// Most sessions never meet a fault, so it is one reference until one does: every idle
/// session pays a word for it, not the five its fields take.
struct SessionFaults {
    private final class Storage {
        var inherited: [Fault] = []
        var own: [Fault] = []
        var draws: [Key: (fault: Fault, applies: Bool)] = [:]
        var log: [SessionFault] = []

        func copy() -> Storage {
            let copy = Storage()
            (copy.inherited, copy.own, copy.draws, copy.log) = (inherited, own, draws, log)
            return copy
        }
    }

    private var storage: Storage?

    struct Key: Hashable {
        let own: Bool
        let name: String
    }

    static let maxLog = 64

    private mutating func unique() -> Storage {
        guard let storage else {
            let new = Storage()
            self.storage = new
            return new
        }
        if isKnownUniquelyReferenced(&self.storage) { return storage }
        let copy = storage.copy()
        self.storage = copy
        return copy
    }

    /// The listener's or the reconnecting session's faults, as of the last change.
    var inherited: [Fault] {
        get { storage?.inherited ?? [] }
        set { unique().inherited = newValue }
    }

    /// Aimed at this session alone.
    var own: [Fault] {
        get { storage?.own ?? [] }
        set { unique().own = newValue }
    }

    var log: [SessionFault] { storage?.log ?? [] }

    var isEmpty: Bool { storage.map { $0.inherited.isEmpty && $0.own.isEmpty } ?? true }

    /// The faults that apply now, inherited first, each in the order added; `drawn` gets each
    /// new draw. A changed definition is drawn again.
    mutating func applying(at now: Date, drawn: (SessionFault) -> Void) -> [Fault] {
        guard storage != nil else { return [] }
        let storage = unique()
        var applying: [Fault] = []
        var seen = Set<Key>()
        for (isOwn, faults) in [(false, storage.inherited), (true, storage.own)] {
            for fault in faults {
                let key = Key(own: isOwn, name: fault.name)
                seen.insert(key)
                if let draw = storage.draws[key], draw.fault == fault {
                    if draw.applies { applying.append(fault) }
                    continue
                }
                let applies = fault.toxicity >= 1 || Double.random(in: 0..<1) < fault.toxicity
                storage.draws[key] = (fault, applies)
                let record = SessionFault(name: fault.name, type: fault.type, direction: fault.direction, applied: applies, at: now)
                // A fault changed over and over on a long session keeps its first draws and
                // its latest: the history row stays small.
                if storage.log.count >= Self.maxLog { storage.log.remove(at: Self.maxLog / 2) }
                storage.log.append(record)
                drawn(record)
                if applies { applying.append(fault) }
            }
        }
        if storage.draws.count > seen.count { storage.draws = storage.draws.filter { seen.contains($0.key) } }
        return applying
    }
}
