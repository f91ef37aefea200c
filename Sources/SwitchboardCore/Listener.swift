import Foundation
import NIOCore
import Synchronization

/// What a listener does with each connection it accepts.
public enum ListenerMode: Sendable, Equatable {
    /// Writes back every byte it receives.
    case echo
    /// Answers each chunk it receives with `reply`; closes after the first answer if asked.
    case reply(ByteBuffer, closeAfterReply: Bool)
    /// Keeps the connection for an operator to read and write through the API.
    case hold
    /// Connects each accepted connection to `to` and relays bytes both ways. When the upstream
    /// cannot be reached the accepted connection is closed, or reset with `resetOnFailure`.
    case forward(to: Endpoint, resetOnFailure: Bool)

    public var name: String {
        switch self {
        case .echo: "echo"
        case .reply: "reply"
        case .hold: "hold"
        case .forward: "forward"
        }
    }

    var behaviour: SessionBehaviour {
        switch self {
        case .echo: .echo
        case .reply(let reply, let close): .reply(reply, closeAfterReply: close)
        case .hold: .interactive
        case .forward: .relay
        }
    }
}

/// What an operator asks for when creating a listener.
public struct ListenerSpec: Sendable {
    public var name: String
    public var address: Endpoint
    public var mode: ListenerMode
    public var maxSessions: Int?
    /// Record the bytes of every accepted session into the history.
    public var capture: Bool
    public var options: ConnectionOptions

    public init(name: String, address: Endpoint, mode: ListenerMode, maxSessions: Int? = nil, capture: Bool = false, options: ConnectionOptions = .init()) {
        self.name = name
        self.address = address
        self.mode = mode
        self.maxSessions = maxSessions
        self.capture = capture
        self.options = options
    }

    /// 1-64 characters of `[A-Za-z0-9._-]`, not starting with a dot (names end up in paths and logs).
    public static func validateName(_ name: String) throws(SwitchboardError) {
        guard (1...64).contains(name.utf8.count),
              name.utf8.allSatisfy({ $0.isNameByte }),
              name.utf8.first != UInt8(ascii: ".") else {
            throw SwitchboardError(.invalidArgument, "name must be 1-64 characters of A-Z a-z 0-9 . _ - and not start with '.'")
        }
    }
}

extension UInt8 {
    var isNameByte: Bool {
        (self >= 0x30 && self <= 0x39) || (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A)
            || self == UInt8(ascii: ".") || self == UInt8(ascii: "_") || self == UInt8(ascii: "-")
    }
}

public struct ListenerInfo: Sendable {
    public enum State: String, Sendable {
        case listening
        case stopped
        /// Restored at start-up but its address could not be bound.
        case failed
    }
    public let name: String
    public let mode: ListenerMode
    /// The address the kernel bound, with the real port when 0 was asked for.
    public let address: String
    public let requestedAddress: Endpoint
    public let maxSessions: Int?
    public let createdAt: Date
    public let openSessions: Int
    public let totalSessions: UInt64
    public let rejectedSessions: UInt64
    public let bytesIn: UInt64
    public let bytesOut: UInt64
    public let state: State
    public let capture: Bool
    public let options: ConnectionOptions
    /// Why a restored listener could not be bound.
    public let error: String?

    static func failed(_ spec: ListenerSpec, createdAt: Date, error: String) -> ListenerInfo {
        ListenerInfo(
            name: spec.name, mode: spec.mode, address: spec.address.description, requestedAddress: spec.address,
            maxSessions: spec.maxSessions, createdAt: createdAt, openSessions: 0, totalSessions: 0,
            rejectedSessions: 0, bytesIn: 0, bytesOut: 0, state: .failed, capture: spec.capture, options: spec.options, error: error
        )
    }
}

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
    }
    private let mutable = Mutex(Mutable())

    init(spec: ListenerSpec, createdAt: Date) {
        self.spec = spec
        self.createdAt = createdAt
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
            return .admitted
        }
    }

    enum Admission { case admitted, full, stopped }

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

    var info: ListenerInfo {
        let (open, counters, boundAddress, active) = mutable.withLock { m in
            (Array(m.open.values), (m.accepted, m.rejected, m.closedBytesIn, m.closedBytesOut), m.boundAddress, m.active)
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
            bytesIn: bytesIn, bytesOut: bytesOut, state: active ? .listening : .stopped,
            capture: spec.capture, options: spec.options, error: nil
        )
    }
}
