import Foundation
import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// The live events behind `GET /v1/events`: an observer of the core that numbers every event,
/// keeps the last ones for clients that reconnect, and hands them to each connected client.
///
/// Observer calls come from event loops and only append under one lock: an event goes into a
/// bounded ring and into the bounded queue of every client whose filter wants it. A client
/// whose queue is full is dropped (its stream ends); nothing ever waits for a client, so a slow
/// one never slows the sockets or the other clients. JSON is encoded by each stream's own task.
///
/// A `Service`: on graceful shutdown every stream writes what it has queued and ends, so the
/// HTTP server (shut down after it) finds no request still open.
public final class EventHub: SwitchboardObserver, Service {
    public struct Limits: Sendable {
        /// Events kept for `Last-Event-ID` (session.data events are live only, never kept).
        public var ringSize = 10_000
        /// Events waiting for one client; a client this far behind is dropped.
        public var clientBuffer = 1_000
        /// Connected clients; more are refused with 503.
        public var maxClients = 64
        /// A comment line is written after this long without an event, so proxies and clients
        /// know the stream is alive.
        public var keepAlive = Duration.seconds(15)
        /// session.data events are coalesced per session and direction over this interval...
        public var dataInterval = Duration.milliseconds(100)
        /// ...and at most this many are written per interval and client (the rest wait, adding up).
        public var maxDataEventsPerInterval = 500
        /// On shutdown, how long a stream may take to write what it has queued before it is cut.
        public var shutdownGrace = Duration.seconds(2)
        public init() {}
    }

    /// Which events a client asked for: `?listener=` and `?session=`, both if both are given.
    struct Filter: Sendable {
        var listener: String?
        var session: SessionID?

        func matches(listener eventListener: String?, session eventSession: SessionID?) -> Bool {
            if let listener, listener != eventListener { return false }
            if let session, session != eventSession { return false }
            return true
        }

        func matches(_ event: LiveEvent) -> Bool { matches(listener: event.listener, session: event.session) }
    }

    enum End: Sendable, Equatable {
        /// The client fell `clientBuffer` events behind.
        case overflow
        /// The service is stopping.
        case shutdown
    }

    enum Refusal: Error {
        case tooManyClients(Int)
        case shuttingDown
    }

    fileprivate struct DataKey: Hashable {
        let session: SessionID
        let direction: Message.Direction
    }

    fileprivate struct Client {
        let filter: Filter
        let wantsData: Bool
        let more: Wakeup
        let ended: Wakeup
        var queue: [LiveEvent] = []
        /// Events replayed for `Last-Event-ID` still in `queue`: they do not count towards
        /// `clientBuffer`, or a client resuming more than that far back would be dropped by the
        /// next event before its stream had taken the replay.
        var replayed = 0
        var pendingData: [DataKey: SessionDataEvent] = [:]
        var lastDataFlush = ContinuousClock.now
        var end: End?
    }

    fileprivate struct State {
        var nextID: UInt64 = 1
        var ring = CircularBuffer<LiveEvent>()
        /// The newest id that fell out of the ring: a client resuming before it lost events.
        var evictedThrough: UInt64 = 0
        var clients: [UInt64: Client] = [:]
        var nextClient: UInt64 = 0
        var dataClients = 0
        var finished = false
        var reportData: (@Sendable (Bool) -> Void)?
    }

    let limits: Limits
    private let logger: Logger
    private let state = Mutex(State())
    private let clientsGauge: Gauge
    private let droppedCounter: Counter

    public init(limits: Limits = .init(), logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.limits = limits
        self.logger = logger
        clientsGauge = Gauge(label: "switchboard_event_clients", dimensions: [], factory: metrics)
        droppedCounter = Counter(label: "switchboard_event_clients_dropped_total", dimensions: [], factory: metrics)
    }

    /// Lets the hub turn the core's data reports on while a client wants session.data, and off after.
    public func attach(_ switchboard: Switchboard) {
        let set: @Sendable (Bool) -> Void = { [weak switchboard] on in switchboard?.reportsData = on }
        state.withLock { s in
            s.reportData = set
            set(s.dataClients > 0)
        }
    }

    /// Connected clients, for tests and the API.
    public var clientCount: Int { state.withLock { $0.clients.count } }

    /// The id the next event will get.
    var nextEventID: UInt64 { state.withLock { $0.nextID } }

    // MARK: SwitchboardObserver (called on event loops and API tasks: append and return)

    public func listenerCreated(_ listener: ListenerInfo) { publish(.listenerCreated(listener)) }
    public func listenerDeleted(_ listener: ListenerInfo) { publish(.listenerDeleted(listener)) }
    public func listenerFailed(_ listener: ListenerInfo) { publish(.listenerFailed(listener)) }
    public func sessionOpened(_ session: SessionInfo) { publish(.sessionOpened(session)) }
    public func sessionClosed(_ session: SessionInfo) { publish(.sessionClosed(session), flushingDataOf: session.id) }
    public func sessionReconnecting(_ status: ReconnectStatus) { publish(.sessionReconnecting(status)) }
    public func connectionRejected(listener: String, reason: RejectReason) {
        publish(.connectionRejected(listener: listener, reason: reason, at: Date()))
    }
    public func connectFailed(listener: String?, name: String?, error: SwitchboardError) {
        publish(.connectFailed(listener: listener, name: name, error: error, at: Date()))
    }
    public func faultAdded(_ fault: Fault, on target: FaultTarget) { publish(.faultEdited(.added, fault, target, at: Date())) }
    public func faultChanged(_ fault: Fault, on target: FaultTarget) { publish(.faultEdited(.changed, fault, target, at: Date())) }
    public func faultRemoved(_ fault: Fault, from target: FaultTarget) { publish(.faultEdited(.removed, fault, target, at: Date())) }
    public func faultApplied(_ fault: SessionFault, session: SessionID, listener: String?, name: String?) {
        publish(.faultApplied(fault, session: session, listener: listener, name: name))
    }

    /// Adds the bytes to each data client's pending sum for the session; a stream writes the sums
    /// once per `dataInterval`.
    public func sessionData(_ event: SessionDataEvent) {
        let wake = state.withLock { s -> [Wakeup] in
            guard s.dataClients > 0 else { return [] }
            var wake: [Wakeup] = []
            let key = DataKey(session: event.sessionID, direction: event.direction)
            for id in Array(s.clients.keys) {
                // In place (no copy of the client's pending sums): through the dictionary's modify accessor.
                Self.update(&s, id) { client in
                    guard client.wantsData, client.end == nil,
                          client.filter.matches(listener: event.listener, session: event.sessionID) else { return }
                    if let pending = client.pendingData[key] {
                        client.pendingData[key] = SessionDataEvent(
                            sessionID: event.sessionID, listener: event.listener, direction: event.direction,
                            bytes: pending.bytes + event.bytes, at: event.at
                        )
                    } else {
                        if client.pendingData.isEmpty { wake.append(client.more) }
                        client.pendingData[key] = event
                    }
                }
            }
            return wake
        }
        wake.forEach { $0.signal() }
    }

    private func publish(_ payload: LiveEvent.Payload, flushingDataOf session: SessionID? = nil) {
        var dropped = 0
        let wake = state.withLock { s -> [Wakeup] in
            var wake: [Wakeup] = []
            // A closing session's last bytes go out before its close.
            if let session, s.dataClients > 0 {
                for id in Array(s.clients.keys) where s.clients[id]!.wantsData {
                    for direction in [Message.Direction.in, .out] {
                        guard let data = s.clients[id]!.pendingData.removeValue(forKey: DataKey(session: session, direction: direction)) else { continue }
                        let event = LiveEvent(id: s.take(), payload: .sessionData(data))
                        s.clients[id]!.queue.append(event)
                    }
                }
            }
            let event = LiveEvent(id: s.take(), payload: payload)
            s.ring.append(event)
            if s.ring.count > limits.ringSize { s.evictedThrough = s.ring.removeFirst().id }
            for id in Array(s.clients.keys) {
                let overflow = Self.update(&s, id) { client -> Bool? in
                    guard client.end == nil, client.filter.matches(event) else { return nil }
                    wake.append(client.more)
                    guard client.queue.count < limits.clientBuffer + client.replayed else { return true }
                    client.queue.append(event)
                    return false
                }
                if overflow == true {
                    end(&s, id, .overflow)
                    dropped += 1
                    wake.append(s.clients[id]!.ended)
                }
            }
            return wake
        }
        wake.forEach { $0.signal() }
        if dropped > 0 {
            droppedCounter.increment(by: dropped)
            logger.warning("a live events client fell behind and was dropped", metadata: ["buffer": "\(limits.clientBuffer)"])
        }
    }

    private static func update<R>(_ s: inout State, _ id: UInt64, _ body: (inout Client) -> R) -> R {
        body(&s.clients[id]!)
    }

    private func end(_ s: inout State, _ id: UInt64, _ end: End) {
        guard s.clients[id]?.end == nil else { return }
        s.clients[id]!.end = end
        // Its queue is not written any more: free it now, not when its stream lets go.
        s.clients[id]!.queue = []
        if s.clients[id]!.wantsData {
            s.clients[id]!.pendingData = [:]
            dataClientLeft(&s)
        }
    }

    private func dataClientLeft(_ s: inout State) {
        s.dataClients -= 1
        if s.dataClients == 0 { s.reportData?(false) }
    }

    // MARK: Clients

    /// Registers a client. With `lastEventID` it first gets what it missed that the ring still
    /// holds, after a `lost` event if the ring no longer reaches back that far.
    func subscribe(_ filter: Filter, data: Bool, lastEventID: UInt64?) throws(Refusal) -> EventSubscription {
        let result = state.withLock { s -> Result<EventSubscription, Refusal> in
            guard !s.finished else { return .failure(.shuttingDown) }
            guard s.clients.count < limits.maxClients else { return .failure(.tooManyClients(limits.maxClients)) }
            var client = Client(filter: filter, wantsData: data, more: Wakeup(), ended: Wakeup())
            if let last = lastEventID {
                // An id this service never gave out is from before a restart: all of it is news.
                let fromEarlierRun = last >= s.nextID
                if fromEarlierRun || s.evictedThrough > last {
                    client.queue.append(LiveEvent(id: 0, payload: .lost(lastEventID: last, firstKept: s.ring.first?.id)))
                }
                client.queue += s.ring.filter { (fromEarlierRun || $0.id > last) && filter.matches($0) }
                client.replayed = client.queue.count
            }
            s.nextClient += 1
            s.clients[s.nextClient] = client
            if data {
                s.dataClients += 1
                if s.dataClients == 1 { s.reportData?(true) }
            }
            clientsGauge.record(s.clients.count)
            return .success(EventSubscription(hub: self, id: s.nextClient, more: client.more, ended: client.ended))
        }
        return try result.get()
    }

    /// What a stream gets from `next(until:)`.
    enum Next {
        case events([LiveEvent])
        /// Nothing before the deadline: time for a keep-alive.
        case idle
        case ended(End)
    }

    /// Takes what is queued for a client, data sums included once their interval has passed.
    fileprivate func take(_ id: UInt64) -> (events: [LiveEvent], end: End?, dataDue: ContinuousClock.Instant?) {
        state.withLock { s in
            // Taken out and put back, so changing it copies nothing.
            guard var client = s.clients.removeValue(forKey: id) else { return ([], .shutdown, nil) }
            var events = client.queue
            client.queue = []
            client.replayed = 0
            var dataDue: ContinuousClock.Instant?
            if !client.pendingData.isEmpty {
                let now = ContinuousClock.now
                if now - client.lastDataFlush >= limits.dataInterval {
                    // Oldest sums first, so a busy client still gets to every session in turn.
                    let due = client.pendingData.sorted { $0.value.at < $1.value.at }.prefix(limits.maxDataEventsPerInterval)
                    for (key, data) in due {
                        client.pendingData.removeValue(forKey: key)
                        events.append(LiveEvent(id: s.take(), payload: .sessionData(data)))
                    }
                    client.lastDataFlush = now
                }
                if !client.pendingData.isEmpty { dataDue = client.lastDataFlush + limits.dataInterval }
            }
            let end = client.end
            s.clients[id] = client
            return (events, end, dataDue)
        }
    }

    fileprivate func end(of id: UInt64) -> End? {
        state.withLock { $0.clients[id].map { $0.end } ?? .shutdown }
    }

    fileprivate func leave(_ id: UInt64) {
        state.withLock { s in
            guard let client = s.clients.removeValue(forKey: id) else { return }
            if client.wantsData && client.end == nil { dataClientLeft(&s) }
            clientsGauge.record(s.clients.count)
        }
    }

    // MARK: Shutdown

    /// Ends every stream (each writes what it has queued first) and refuses new clients.
    public func finish() {
        let wake = state.withLock { s -> [Wakeup] in
            s.finished = true
            var wake: [Wakeup] = []
            for id in s.clients.keys where s.clients[id]!.end == nil {
                // Unlike an overflow, the queue stays: the stream writes it, then ends.
                s.clients[id]!.end = .shutdown
                if s.clients[id]!.wantsData { dataClientLeft(&s) }
                wake += [s.clients[id]!.more, s.clients[id]!.ended]
            }
            return wake
        }
        wake.forEach { $0.signal() }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        finish()
    }
}

extension EventHub.State {
    /// The next id of the one sequence that numbers every event.
    fileprivate mutating func take() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }
}

/// One connected client of `/v1/events`, as its stream sees it.
final class EventSubscription: Sendable {
    private let hub: EventHub
    private let id: UInt64
    private let more: Wakeup
    private let ended: Wakeup

    fileprivate init(hub: EventHub, id: UInt64, more: Wakeup, ended: Wakeup) {
        self.hub = hub
        self.id = id
        self.more = more
        self.ended = ended
    }

    /// Waits for events until `deadline` (the next keep-alive). Ends only after everything
    /// queued before the end was handed out.
    func next(until deadline: ContinuousClock.Instant) async -> EventHub.Next {
        while true {
            let (events, end, dataDue) = hub.take(id)
            if !events.isEmpty { return .events(events) }
            if let end { return .ended(end) }
            let now = ContinuousClock.now
            if now >= deadline || Task.isCancelled { return .idle }
            await more.wait(upTo: min(deadline, dataDue ?? deadline) - now)
        }
    }

    /// Returns once the client is dropped or the service stops (nil if cancelled first).
    func waitForEnd() async -> EventHub.End? {
        while !Task.isCancelled {
            if let end = hub.end(of: id) { return end }
            await ended.wait(upTo: .seconds(3600))
        }
        return nil
    }

    /// Unregisters the client; its stream is done.
    func close() { hub.leave(id) }
}
