#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// One TCP or unix-socket connection, in either role.
///
/// The channel handler updates it on the event loop; the API reads it from anywhere, so its
/// mutable part sits behind one lock, held only for counter updates and transcript edits.
public final class Session: Sendable {
    public let id: SessionID
    public let role: SessionRole
    public let listener: String?
    public let name: String?
    public let openedAt: Date
    public let localAddress: String?
    public let remoteAddress: String?
    /// The connection's event loop and its close, kept after the channel is let go.
    let eventLoop: any EventLoop
    let closeFuture: EventLoopFuture<Void>
    let behaviour: SessionBehaviour
    let capture: CaptureSettings?
    /// Set by a fault stage holding as much as it may for the socket: writers wait, as for a full socket.
    let faultHoldsWrites = Atomic<Bool>(false)

    /// Past this much unread inbound data the session stops reading from its peer.
    public static let unreadLimit = 1 << 20

    struct Mutable {
        /// Let go once the session is closed: closed sessions stay queryable for a while (the
        /// core keeps the last 1,000), and holding each one's channel, pipeline and buffers
        /// cost ~5 µs of CPU per churned session in cache misses (measured A B, 5 runs each).
        var channel: (any Channel)?
        var transcript: Transcript
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
        var closedAt: Date?
        var closeReason: CloseReason?
        var readPaused = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        var capturedBytes = 0
        var captureSeq: UInt64 = 0
        var captureTruncated = false
        var partnerID: SessionID?
        /// Long-polls waiting on this session right now.
        var longPolls = 0
        /// The peer sent FIN and the session stays open for the operator (hold listeners).
        var peerFinished = false
        /// Bytes operators asked to send that the socket has not taken yet.
        var unsent = 0
        /// Whether a send is writing now; the sends waiting for their turn, in order.
        var sending = false
        var sendQueue: [(key: Int, turn: CheckedContinuation<Void, any Error>)] = []
        var faults = SessionFaults()

        /// The part of `data` still under the capture cap, numbered; nil once the cap is reached.
        mutating func capture(_ data: ByteBuffer, limit: Int) -> (UInt64, ByteBuffer)? {
            guard !captureTruncated else { return nil }
            let room = limit - capturedBytes
            var slice = data
            if data.readableBytes > room {
                captureTruncated = true
                guard room > 0 else { return nil }
                slice = data.getSlice(at: data.readerIndex, length: room)!
            }
            capturedBytes += slice.readableBytes
            captureSeq += 1
            return (captureSeq, slice)
        }

        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            guard !waiters.isEmpty else { return [] }
            defer { waiters.removeAll(keepingCapacity: true) }
            return Array(waiters.values)
        }
    }
    let mutable: Mutex<Mutable>

    init(id: SessionID, role: SessionRole, listener: String?, name: String?, channel: any Channel, behaviour: SessionBehaviour, capture: CaptureSettings?, openedAt: Date) {
        self.capture = capture
        self.id = id
        self.role = role
        self.listener = listener
        self.name = name
        self.eventLoop = channel.eventLoop
        self.closeFuture = channel.closeFuture
        self.behaviour = behaviour
        self.openedAt = openedAt
        self.localAddress = Endpoint.describe(channel.localAddress)
        self.remoteAddress = Endpoint.describe(channel.remoteAddress)
        let operatorReads: Bool
        let retention: Int
        switch behaviour {
        case .hold: (operatorReads, retention) = (true, 1 << 20)
        // Nobody is expected to read an echo or reply session; keep a short look-back only.
        case .echo, .reply: (operatorReads, retention) = (false, 64 * 1024)
        // Relayed bytes are never copied; capture is the way to see them.
        case .forward: (operatorReads, retention) = (false, 0)
        }
        mutable = Mutex(Mutable(channel: channel, transcript: Transcript(operatorReads: operatorReads, retention: retention)))
    }

    public var info: SessionInfo {
        mutable.withLock { m in
            SessionInfo(
                id: id, role: role, listener: listener, name: name,
                localAddress: localAddress, remoteAddress: remoteAddress,
                state: m.closedAt == nil ? .open : .closed,
                openedAt: openedAt, closedAt: m.closedAt, closeReason: m.closeReason,
                bytesIn: m.bytesIn, bytesOut: m.bytesOut,
                capture: capture != nil, captureTruncated: m.captureTruncated, partnerID: m.partnerID,
                faults: m.faults.log, ownFaults: m.faults.own
            )
        }
    }

    public var isOpen: Bool { mutable.withLock { $0.closedAt == nil } }
    /// Nil once the session is closed.
    var channel: (any Channel)? { mutable.withLock { $0.channel } }
    var bytes: (in: UInt64, out: UInt64) { mutable.withLock { ($0.bytesIn, $0.bytesOut) } }
    var retainedBytes: Int { mutable.withLock { $0.transcript.retainedBytes } }

    /// The other half of a forwarded pair, set once the upstream is connected.
    var partnerID: SessionID? {
        get { mutable.withLock { $0.partnerID } }
        set { mutable.withLock { $0.partnerID = newValue } }
    }

    // MARK: Called by the channel handler, on the event loop

    /// Counts (and captures) bytes a relay read from (`in`) or wrote to (`out`) this session's
    /// peer; nothing is copied.
    func relayed(_ direction: Message.Direction, _ data: ByteBuffer) {
        let count = UInt64(data.readableBytes)
        guard let capture else {
            mutable.withLock { m in
                if direction == .in { m.bytesIn &+= count } else { m.bytesOut &+= count }
            }
            return
        }
        let now = Date()
        let captured = mutable.withLock { m in
            if direction == .in { m.bytesIn &+= count } else { m.bytesOut &+= count }
            return m.capture(data, limit: capture.limit)
        }
        if let captured { capture.sink(CapturedChunk(sessionID: id, seq: captured.0, direction: direction, at: now, data: captured.1)) }
    }

    /// Records received bytes; answers whether the handler should stop reading from the peer.
    func received(_ data: ByteBuffer) -> Bool {
        let now = Date()
        let (pause, waiters, captured) = mutable.withLock { m in
            m.bytesIn += UInt64(data.readableBytes)
            m.transcript.append(.in, data, at: now)
            if m.transcript.unreadInboundBytes >= Self.unreadLimit { m.readPaused = true }
            return (m.readPaused, m.takeWaiters(), capture.flatMap { m.capture(data, limit: $0.limit) })
        }
        waiters.forEach { $0.resume() }
        if let captured { capture?.sink(CapturedChunk(sessionID: id, seq: captured.0, direction: .in, at: now, data: captured.1)) }
        return pause
    }

    func sent(_ data: ByteBuffer) {
        let now = Date()
        let (waiters, captured) = mutable.withLock { m in
            m.bytesOut += UInt64(data.readableBytes)
            m.transcript.append(.out, data, at: now)
            return (m.takeWaiters(), capture.flatMap { m.capture(data, limit: $0.limit) })
        }
        waiters.forEach { $0.resume() }
        if let captured { capture?.sink(CapturedChunk(sessionID: id, seq: captured.0, direction: .out, at: now, data: captured.1)) }
    }

    /// The peer is done sending but the session stays open (a hold listener's client shut its
    /// write side): long-polls learn it at once, and the peer ended first, so `peer` is the
    /// reason whenever the operator closes.
    func notePeerFinishedSending() {
        noteCloseReason(.peer)
        let waiters = mutable.withLock { m in
            m.peerFinished = true
            return m.takeWaiters()
        }
        waiters.forEach { $0.resume() }
    }

    /// Notes why the session is ending; the first reason given wins.
    func noteCloseReason(_ reason: CloseReason) {
        mutable.withLock { m in
            if m.closeReason == nil && m.closedAt == nil { m.closeReason = reason }
        }
    }

    /// Marks the session closed; answers false when it already was.
    func markClosed() -> Bool {
        let (changed, waiters) = mutable.withLock { m -> (Bool, [CheckedContinuation<Void, Never>]) in
            guard m.closedAt == nil else { return (false, []) }
            m.closedAt = Date()
            m.channel = nil
            if m.closeReason == nil { m.closeReason = .peer }
            return (true, m.takeWaiters())
        }
        waiters.forEach { $0.resume() }
        return changed
    }

    // MARK: Called by the API

    /// Messages after `after`; with a `wait`, long-polls until one arrives, the session closes
    /// or the time is up.
    func messages(after: UInt64, wait: Duration, maxBytes: Int, maxWaiting: Int = .max) async throws(SwitchboardError) -> MessagePage {
        guard wait > .zero else { return takePage(after: after, maxBytes: maxBytes) }
        let admitted = mutable.withLock { m -> Bool in
            guard m.longPolls < maxWaiting else { return false }
            m.longPolls += 1
            return true
        }
        guard admitted else {
            throw SwitchboardError(.limitReached, "session \(id) already has \(maxWaiting) long-polls waiting (--max-long-polls)")
        }
        defer { mutable.withLock { $0.longPolls -= 1 } }
        let deadline = ContinuousClock.now + wait
        while true {
            let page = takePage(after: after, maxBytes: maxBytes)
            if !page.messages.isEmpty || !isOpen || page.peerFinished || ContinuousClock.now >= deadline || Task.isCancelled { return page }
            await waitForChange(until: deadline, after: after)
        }
    }

    private func takePage(after: UInt64, maxBytes: Int) -> MessagePage {
        let (page, resume) = mutable.withLock { m -> (MessagePage, (any Channel)?) in
            var page = m.transcript.page(after: after, maxBytes: maxBytes)
            page.peerFinished = m.peerFinished
            var resume: (any Channel)?
            if m.readPaused && m.transcript.unreadInboundBytes < Self.unreadLimit {
                m.readPaused = false
                resume = m.channel
            }
            return (page, resume)
        }
        resume?.pipeline.fireUserInboundEventTriggered(SessionRecorder.ResumeReading())
        return page
    }

    /// Suspends until the transcript or state changes, the deadline passes or the task is cancelled.
    private func waitForChange(until deadline: ContinuousClock.Instant, after: UInt64) async {
        await withTaskGroup(of: Void.self) { group in
            let key = mutable.withLock { m -> Int in m.nextWaiter += 1; return m.nextWaiter }
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let ready = self.mutable.withLock { m -> Bool in
                            if m.closedAt != nil || m.peerFinished || m.transcript.lastSeq > after || Task.isCancelled { return true }
                            m.waiters[key] = continuation
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                } onCancel: {
                    self.mutable.withLock { $0.waiters.removeValue(forKey: key) }?.resume()
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Closes the connection: in order (FIN), or with `reset` an RST (SO_LINGER 0).
    func close(reset: Bool) async {
        noteCloseReason(.local)
        guard let channel else { return }
        // A close the operator or shutdown asks for is not a fault's to delay (a slow_close of
        // a day, a latency holding writes ahead of it): the faults come off first, what they
        // held goes out, then the close.
        if !mutable.withLock({ $0.faults.isEmpty }) {
            try? await channel.eventLoop.submit {
                FaultStage.remove(from: channel)
            }.get()
        }
        if reset {
            try? await (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close().get()
    }
}
