/// Where a fault stage reports what it did to bytes: the observers' `faultBytes`.
struct FaultReporter: Sendable {
    let observers: [any SwitchboardObserver]

    func report(_ type: FaultType, _ outcome: FaultFlow.Outcome) {
        guard outcome.delayed > 0 || outcome.dropped > 0 || outcome.corrupted > 0 else { return }
        for observer in observers {
            observer.faultBytes(type, delayed: outcome.delayed, dropped: outcome.dropped, corrupted: outcome.corrupted)
        }
    }
}
