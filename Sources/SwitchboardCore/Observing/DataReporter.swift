import Foundation
import Synchronization

/// Hands `sessionData` events to observers while somebody wants them.
final class DataReporter: Sendable {
    private let flag = Atomic<Bool>(false)
    private let observers: [any SwitchboardObserver]

    init(observers: [any SwitchboardObserver]) { self.observers = observers }

    var enabled: Bool {
        get { flag.load(ordering: .relaxed) }
        set { flag.store(newValue, ordering: .relaxed) }
    }

    @inline(__always)
    func report(_ session: Session, _ direction: Message.Direction, _ bytes: Int) {
        guard flag.load(ordering: .relaxed), bytes > 0 else { return }
        let event = SessionDataEvent(sessionID: session.id, listener: session.listener, direction: direction, bytes: bytes, at: Date())
        for observer in observers { observer.sessionData(event) }
    }
}
