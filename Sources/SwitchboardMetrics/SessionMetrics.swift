import CoreMetrics
import Metrics
import SwitchboardCore
import Synchronization

/// Turns what the core reports into swift-metrics: sessions opened and closed, open sessions,
/// bytes, rejected connections, connect failures, and what faults did.
///
/// An observer like the history writer, so the core knows nothing of metrics. It lives in its
/// own small target rather than in the API because it is not about HTTP: the API only renders
/// whatever backend the executable bootstrapped.
///
/// Labels are bounded: a listener name (outbound sessions have `listener=""`), a role, a
/// bucketed close reason, a reject reason, an error kind, a fault type. Never a session id, an address or an
/// error's text.
///
/// Calls come from event loops: each is a dictionary lookup and a counter increment under a
/// lock. Byte counters and the open-session gauge are brought up to date by `collect(from:)`,
/// which the scrape calls (the core does not report every chunk, and should not have to).
public final class SessionMetrics: SwitchboardObserver {
    /// The metric names, in one place for the README and the tests.
    public enum Name {
        public static let sessionsOpened = "switchboard_sessions_opened_total"
        public static let sessionsClosed = "switchboard_sessions_closed_total"
        public static let openSessions = "switchboard_open_sessions"
        public static let listeners = "switchboard_listeners"
        public static let bytes = "switchboard_bytes_total"
        public static let rejected = "switchboard_connections_rejected_total"
        public static let connectFailures = "switchboard_connect_failures_total"
        public static let faultsApplied = "switchboard_faults_applied_total"
        public static let faultBytes = "switchboard_fault_bytes_total"
    }

    /// A metric's label names never change, so its name and up to three values identify it.
    private struct Key: Hashable {
        let name: String
        var a = "", b = "", c = ""
    }

    /// A counter that every open or close of a session touches, keyed without a label list.
    private struct SessionSeries: Hashable {
        enum Kind: Hashable {
            case opened
            case closed(reason: String)
            case bytesIn, bytesOut
        }
        let kind: Kind
        let listener: String
        let role: SessionRole
    }

    private struct State {
        var counters: [Key: Counter] = [:]
        /// The same counters as `counters`, found for a session in one lookup: building each one's
        /// labels and key cost a churned session four allocations and about a hundred reference
        /// counts.
        var sessionSeries: [SessionSeries: Counter] = [:]
        var gauges: [Key: Gauge] = [:]
        /// Bytes already counted per open session, so each byte is counted once: by the scrape
        /// while the session is open, and the rest by `sessionClosed`.
        var counted: [SessionID: (in: UInt64, out: UInt64)] = [:]
        /// Sessions that closed while a scrape ran, whose list of open sessions may still show
        /// them: that scrape must not count their bytes again. Emptied when no scrape runs, so
        /// it holds the closes of a scrape's few milliseconds, not of the service's life.
        var closedWhileListed: Set<SessionID> = []
        var scrapesInFlight = 0
        /// Open-session label sets seen before, so a gauge falls to 0 when its last session closes.
        var openLabelSets: Set<[String]> = []
    }

    private let factory: any MetricsFactory
    private let state = Mutex(State())

    /// `factory` is the bootstrapped `MetricsSystem.factory` in the service; tests pass their own.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    // MARK: SwitchboardObserver (called on event loops)

    public func sessionOpened(_ session: SessionInfo) {
        let opened = SessionSeries(kind: .opened, listener: session.listener ?? "", role: session.role)
        (state.withLock { $0.sessionSeries[opened] } ?? counter(opened)).increment()
    }

    public func sessionClosed(_ session: SessionInfo) {
        let listener = session.listener ?? ""
        let closed = SessionSeries(kind: .closed(reason: Self.bucket(session.closeReason)), listener: listener, role: session.role)
        let bytesIn = SessionSeries(kind: .bytesIn, listener: listener, role: session.role)
        let bytesOut = SessionSeries(kind: .bytesOut, listener: listener, role: session.role)
        let (delta, counters) = state.withLock { s in
            let counted = s.counted.removeValue(forKey: session.id) ?? (0, 0)
            if s.scrapesInFlight > 0 { s.closedWhileListed.insert(session.id) }
            let delta = (in: session.bytesIn &- min(counted.in, session.bytesIn), out: session.bytesOut &- min(counted.out, session.bytesOut))
            return (delta, (closed: s.sessionSeries[closed], in: s.sessionSeries[bytesIn], out: s.sessionSeries[bytesOut]))
        }
        if delta.in > 0 { (counters.in ?? counter(bytesIn)).increment(by: Int64(clamping: delta.in)) }
        if delta.out > 0 { (counters.out ?? counter(bytesOut)).increment(by: Int64(clamping: delta.out)) }
        (counters.closed ?? counter(closed)).increment()
    }

    public func connectionRejected(listener: String, reason: RejectReason) {
        counter(Name.rejected, ["listener": listener, "reason": reason.rawValue]).increment()
    }

    public func connectFailed(listener: String?, name: String?, error: SwitchboardError) {
        counter(Name.connectFailures, ["kind": Self.kind(error.kind)]).increment()
    }

    /// Per type, never per fault name: names are the operators' and unbounded.
    public func faultApplied(_ fault: SessionFault, session: SessionID, listener: String?, name: String?) {
        counter(Name.faultsApplied, ["type": fault.type.name]).increment()
    }

    /// Called once per chunk a fault touched (no array made here); each effect its own series.
    public func faultBytes(_ type: FaultType, delayed: Int, dropped: Int, corrupted: Int) {
        if delayed > 0 { counter(Name.faultBytes, ["type": type.name, "effect": "delayed"]).increment(by: Int64(delayed)) }
        if dropped > 0 { counter(Name.faultBytes, ["type": type.name, "effect": "dropped"]).increment(by: Int64(dropped)) }
        if corrupted > 0 { counter(Name.faultBytes, ["type": type.name, "effect": "corrupted"]).increment(by: Int64(corrupted)) }
    }

    // MARK: At scrape time

    /// Counts the bytes that open sessions moved since the last scrape and sets the gauges, so
    /// a long session's traffic shows while it is still open.
    public func collect(from switchboard: Switchboard) {
        beginScrape()
        collect(openSessions: switchboard.sessions(.init(state: .open)), listeners: switchboard.counts.listeners)
    }

    /// A scrape is about to list the open sessions; its `collect(openSessions:listeners:)` ends it.
    package func beginScrape() {
        state.withLock { $0.scrapesInFlight += 1 }
    }

    /// Sessions remembered as closed during a scrape (for tests: none once no scrape runs).
    package var closedDuringScrapes: Int { state.withLock { $0.closedWhileListed.count } }

    /// `collect(from:)` with its inputs spelled out, for tests: `beginScrape()`, then the list.
    package func collect(openSessions: [SessionInfo], listeners: Int) {
        var open: [[String]: Int] = [:]
        // By listener and role: a forwarded pair's two halves carry the same bytes, told apart by role.
        var bytes: [[String]: (in: UInt64, out: UInt64)] = [:]
        let gone = state.withLock { s -> Set<[String]> in
            var listed = Set<SessionID>()
            for session in openSessions where session.state == .open {
                listed.insert(session.id)
                // Closed after this list was taken: sessionClosed counted all of it already.
                guard !s.closedWhileListed.contains(session.id) else { continue }
                let listener = session.listener ?? ""
                open[[listener, session.role.rawValue], default: 0] += 1
                let counted = s.counted[session.id] ?? (0, 0)
                // Concurrent scrapes may hand in older numbers: only ever count forward.
                let now = (in: max(counted.in, session.bytesIn), out: max(counted.out, session.bytesOut))
                s.counted[session.id] = now
                bytes[[listener, session.role.rawValue], default: (0, 0)].in += now.in - counted.in
                bytes[[listener, session.role.rawValue], default: (0, 0)].out += now.out - counted.out
            }
            s.scrapesInFlight = max(0, s.scrapesInFlight - 1)
            // With another scrape still running, its older list may show any of them.
            if s.scrapesInFlight == 0 { s.closedWhileListed.removeAll() }
            let gone = s.openLabelSets.subtracting(open.keys)
            s.openLabelSets.formUnion(open.keys)
            return gone
        }
        for (labels, moved) in bytes { addBytes(listener: labels[0], role: labels[1], in: moved.in, out: moved.out) }
        for (labels, count) in open { gauge(Name.openSessions, ["listener": labels[0], "role": labels[1]]).record(count) }
        for labels in gone { gauge(Name.openSessions, ["listener": labels[0], "role": labels[1]]).record(0) }
        gauge(Name.listeners, [:]).record(listeners)
    }

    // MARK: Buckets

    /// A close reason as a label: the kind, never an error's text.
    public static func bucket(_ reason: CloseReason?) -> String {
        switch reason {
        case .local: "local"
        case .peer: "peer"
        case .reset: "reset"
        case .idle: "idle"
        case .partner: "partner"
        case .fault: "fault"
        case .error: "error"
        // A session never closed by this process (the history marks such rows interrupted).
        case nil: "interrupted"
        }
    }

    /// An error kind as a label, spelled like the API's error codes.
    public static func kind(_ kind: SwitchboardError.Kind) -> String {
        switch kind {
        case .connectRefused: "refused"
        case .connectTimeout: "timeout"
        case .invalidArgument: "invalid"
        case .notFound: "not_found"
        case .nameTaken: "name_taken"
        case .addressInUse: "address_in_use"
        case .addressUnavailable: "address_unavailable"
        case .sessionClosed: "session_closed"
        case .shuttingDown: "shutting_down"
        case .storageUnavailable: "storage_unavailable"
        case .limitReached: "limit_reached"
        case .forbidden: "forbidden"
        case .sendQueueFull: "send_queue_full"
        }
    }

    // MARK: Metric objects, made once per label set

    private func addBytes(listener: String, role: String, in bytesIn: UInt64, out bytesOut: UInt64) {
        if bytesIn > 0 { counter(Name.bytes, ["listener": listener, "role": role, "direction": "in"]).increment(by: Int64(clamping: bytesIn)) }
        if bytesOut > 0 { counter(Name.bytes, ["listener": listener, "role": role, "direction": "out"]).increment(by: Int64(clamping: bytesOut)) }
    }

    /// No array: this runs three or four times per session on the event loops.
    private static func key(_ name: String, _ labels: KeyValuePairs<String, String>) -> Key {
        precondition(labels.count <= 3, "a metric with more than three labels needs a wider Key")
        var key = Key(name: name)
        for (index, (_, value)) in labels.enumerated() {
            switch index {
            case 0: key.a = value
            case 1: key.b = value
            default: key.c = value
            }
        }
        return key
    }

    private func counter(_ name: String, _ labels: KeyValuePairs<String, String>) -> Counter {
        let key = Self.key(name, labels)
        if let counter = state.withLock({ $0.counters[key] }) { return counter }
        let counter = Counter(label: name, dimensions: labels.map { ($0.key, $0.value) }, factory: factory)
        return state.withLock { s in
            if let existing = s.counters[key] { return existing }
            s.counters[key] = counter
            return counter
        }
    }

    /// The first time for a listener, role and kind: made or found as any other counter, then kept.
    private func counter(_ series: SessionSeries) -> Counter {
        let (listener, role) = (series.listener, series.role.rawValue)
        let made = switch series.kind {
        case .opened: counter(Name.sessionsOpened, ["listener": listener, "role": role])
        case .closed(let reason): counter(Name.sessionsClosed, ["listener": listener, "role": role, "reason": reason])
        case .bytesIn: counter(Name.bytes, ["listener": listener, "role": role, "direction": "in"])
        case .bytesOut: counter(Name.bytes, ["listener": listener, "role": role, "direction": "out"])
        }
        state.withLock { $0.sessionSeries[series] = made }
        return made
    }

    private func gauge(_ name: String, _ labels: KeyValuePairs<String, String>) -> Gauge {
        let key = Self.key(name, labels)
        if let gauge = state.withLock({ $0.gauges[key] }) { return gauge }
        let gauge = Gauge(label: name, dimensions: labels.map { ($0.key, $0.value) }, factory: factory)
        return state.withLock { s in
            if let existing = s.gauges[key] { return existing }
            s.gauges[key] = gauge
            return gauge
        }
    }
}
