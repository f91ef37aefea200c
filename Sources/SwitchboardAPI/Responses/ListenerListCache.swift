import NIOCore
import Synchronization
import SwitchboardCore

/// The compact body of the last `GET /v1/listeners` answer, kept with the listeners it shows.
///
/// A monitor or the web view polling a list in which nothing changed gets the same bytes again
/// instead of encoding them again: encoding was a third of that request's CPU (12 of 38 µs with
/// 4 listeners), comparing the listeners with the kept ones costs a fraction of a µs. The body
/// is a function of the listeners alone (the instance is the service's), and `ListenerInfo`'s
/// equality covers every field it has, so any change (a counter, a state, a fault) encodes anew;
/// a busy listener's counters change on every session, and then this costs only the comparison.
final class ListenerListCache: Sendable {
    private let last = Mutex<(listeners: [ListenerInfo], body: ByteBuffer)?>(nil)

    func body(for listeners: [ListenerInfo], encode: ([ListenerInfo]) throws -> ByteBuffer) rethrows -> ByteBuffer {
        if let last = last.withLock({ $0 }), last.listeners == listeners { return last.body }
        let body = try encode(listeners)
        last.withLock { $0 = (listeners, body) }
        return body
    }
}
