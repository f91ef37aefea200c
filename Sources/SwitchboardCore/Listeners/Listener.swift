import Foundation
import NIOCore
import Synchronization

/// A bound server socket and the sessions it accepted.
final class Listener: Sendable {
    let spec: ListenerSpec
    let createdAt: Date

    private struct Mutable {
        var channel: (any Channel)?
        var boundAddress: String?
        var open: [SessionID: Session] = [:]
        var accepted: UInt64 = 0
        var rejected: UInt64 = 0
        var closedBytesIn: UInt64 = 0
        var closedBytesOut: UInt64 = 0
        var active = true
        var faults: [Fault]
    }
    private let mutable: Mutex<Mutable>

    init(spec: ListenerSpec, createdAt: Date) {
        self.spec = spec
        self.createdAt = createdAt
        self.mutable = Mutex(Mutable(faults: spec.faults))
    }

    /// Its faults now: those it was created with, as changed since.
    var faults: [Fault] {
        get { mutable.withLock { $0.faults } }
        set { mutable.withLock { $0.faults = newValue } }
    }

    /// Connections can arrive as soon as the socket is bound, so the listener exists before its channel.
    func attach(_ channel: any Channel) {
        let address = Endpoint.describe(channel.localAddress)
        mutable.withLock { m in
            m.channel = channel
            m.boundAddress = address
        }
    }

    var channel: (any Channel)? { mutable.withLock { $0.channel } }

    var boundEndpoint: Endpoint? {
        mutable.withLock { $0.boundAddress }.flatMap { try? Endpoint(parsing: $0) }
    }

    /// Admits a new connection unless `max_sessions` is reached or the listener is being
    /// deleted; refused ones are counted. Under the same lock as `deactivate`, so a session is
    /// either in `openSessions` when a delete with close_sessions looks, or refused.
    func admit(_ session: Session) -> Admission {
        mutable.withLock { m in
            guard m.active else { return .stopped }
            if let max = spec.maxSessions, m.open.count >= max {
                m.rejected += 1
                return .full
            }
            m.accepted += 1
            m.open[session.id] = session
            return .admitted(faults: m.faults)
        }
    }

    /// Admitted, with the listener's faults as of that moment: a change after it finds the
    /// session among the open ones.
    enum Admission { case admitted(faults: [Fault]), full, stopped }

    /// Counts a connection turned away before it became a session (the service's limit).
    func countRejected() {
        mutable.withLock { $0.rejected += 1 }
    }

    func sessionClosed(_ session: Session) {
        let bytes = session.bytes
        mutable.withLock { m in
            guard m.open.removeValue(forKey: session.id) != nil else { return }
            m.closedBytesIn += bytes.in
            m.closedBytesOut += bytes.out
        }
    }

    var openSessions: [Session] { mutable.withLock { Array($0.open.values) } }

    func deactivate() { mutable.withLock { $0.active = false } }

    /// A listener made again with a changed spec (`Switchboard.changeListener`) goes on
    /// counting where the one it replaces stopped; the sessions of that one are closed by then.
    func continueCounts(from old: Listener) {
        let counts = old.mutable.withLock { ($0.accepted, $0.rejected, $0.closedBytesIn, $0.closedBytesOut) }
        mutable.withLock { m in
            m.accepted += counts.0
            m.rejected += counts.1
            m.closedBytesIn += counts.2
            m.closedBytesOut += counts.3
        }
    }

    var info: ListenerInfo {
        let (open, counters, boundAddress, active, faults) = mutable.withLock { m in
            (Array(m.open.values), (m.accepted, m.rejected, m.closedBytesIn, m.closedBytesOut), m.boundAddress, m.active, m.faults)
        }
        var (bytesIn, bytesOut) = (counters.2, counters.3)
        for session in open {
            let bytes = session.bytes
            bytesIn += bytes.in
            bytesOut += bytes.out
        }
        return ListenerInfo(
            name: spec.name, mode: spec.mode, address: boundAddress ?? spec.address.description,
            requestedAddress: spec.address, maxSessions: spec.maxSessions, createdAt: createdAt,
            openSessions: open.count, totalSessions: counters.0, rejectedSessions: counters.1,
            bytesIn: bytesIn, bytesOut: bytesOut, state: !spec.enabled ? .disabled : active ? .listening : .stopped,
            capture: spec.capture, options: spec.options, error: nil, faults: faults
        )
    }
}
