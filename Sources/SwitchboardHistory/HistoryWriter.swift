import Foundation
import Logging
import Metrics
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// Records what the core reports into the history file: a single writer, off the event loops,
/// one transaction per batch.
///
/// The core's callbacks only append to a bounded in-memory queue, so the socket path never
/// waits for SQLite. When SQLite cannot write (disk full, read-only file) the queue keeps the
/// records and the writer retries; past the bound new records are dropped, counted and logged.
public final class HistoryWriter: SwitchboardObserver, Service {
    enum Record: Sendable {
        case session(SessionRecord)
        /// As the core reported it: turned into a row only if coalescing keeps it, on the
        /// writer's task rather than the event loop.
        case sessionInfo(SessionInfo)
        case message(MessageRecord)

        var sessionID: String? {
            switch self {
            case .session(let s): s.id
            case .sessionInfo(let info): info.id.rawValue
            case .message: nil
            }
        }

        var dataBytes: Int {
            if case .message(let m) = self { return m.data.count }
            return 0
        }
    }

    public struct Limits: Sendable {
        /// How long records wait to share a transaction; the most a SIGKILL can lose.
        public var batchWindow = Duration.milliseconds(50)
        /// A batch is written early once this many records wait.
        public var batchSize = 5_000
        public var maxQueuedRecords = 200_000
        public var maxQueuedCaptureBytes = 64 << 20
        public init() {}
    }

    /// What `/readyz` reports about the writer.
    public struct Health: Sendable {
        public let problem: String?
        public let queued: Int
        public let dropped: UInt64
        public let written: UInt64
    }

    private struct Queue {
        var records: [Record] = []
        var captureBytes = 0
        var dropped: UInt64 = 0
        var written: UInt64 = 0
        var problem: String?
        var lastDropLog: ContinuousClock.Instant?
        var flushedThrough: UInt64 = 0
        var enqueued: UInt64 = 0
        var lastWrite: ContinuousClock.Instant?
    }

    /// An idle writer still notes once a second that the service is alive, for `interrupted` times.
    static let heartbeat = Duration.seconds(1)

    /// What the writer reports to swift-metrics (the backend is the executable's choice).
    struct Instruments {
        static let batchRecords = "switchboard_history_batch_records"
        static let queueDepth = "switchboard_history_queue_depth"
        static let writeDuration = "switchboard_history_write_duration_seconds"
        static let written = "switchboard_history_records_written_total"
        static let dropped = "switchboard_history_records_dropped_total"
        static let failures = "switchboard_history_write_failures_total"

        /// Records per transaction, as a histogram.
        let batchRecords: Recorder
        let queueDepth: Gauge
        let writeDuration: Metrics.Timer
        let written: Counter
        let dropped: Counter
        let failures: Counter

        init(factory: any MetricsFactory) {
            batchRecords = Recorder(label: Self.batchRecords, dimensions: [], aggregate: true, factory: factory)
            queueDepth = Gauge(label: Self.queueDepth, dimensions: [], factory: factory)
            writeDuration = Metrics.Timer(label: Self.writeDuration, dimensions: [], factory: factory)
            written = Counter(label: Self.written, dimensions: [], factory: factory)
            dropped = Counter(label: Self.dropped, dimensions: [], factory: factory)
            failures = Counter(label: Self.failures, dimensions: [], factory: factory)
        }
    }

    private let database: HistoryDatabase
    private let limits: Limits
    private let logger: Logger
    private let queue = Mutex(Queue())
    private let wake = Wakeup()
    private let instruments: Instruments

    /// `metrics` is the bootstrapped `MetricsSystem.factory` unless a test passes its own.
    public init(database: HistoryDatabase, limits: Limits = .init(), logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.database = database
        self.limits = limits
        self.logger = logger
        self.instruments = Instruments(factory: metrics)
    }

    public var health: Health {
        queue.withLock { Health(problem: $0.problem, queued: $0.records.count, dropped: $0.dropped, written: $0.written) }
    }

    // MARK: SwitchboardObserver (called on event loops: append and return)

    public func sessionOpened(_ session: SessionInfo) { enqueue(.sessionInfo(session)) }
    public func sessionClosed(_ session: SessionInfo) { enqueue(.sessionInfo(session)) }
    public func sessionCaptured(_ chunk: CapturedChunk) { enqueue(.message(MessageRecord(chunk))) }

    private func enqueue(_ record: Record) {
        let (accepted, wakeNow, logDrop) = queue.withLock { q -> (Bool, Bool, UInt64?) in
            let bytes = record.dataBytes
            guard q.records.count < limits.maxQueuedRecords, q.captureBytes + bytes <= limits.maxQueuedCaptureBytes else {
                q.dropped += 1
                instruments.dropped.increment()
                let now = ContinuousClock.now
                // Loud, but one line a second at most: a full disk must not also flood the log.
                if q.lastDropLog.map({ now - $0 > .seconds(1) }) ?? true {
                    q.lastDropLog = now
                    return (false, false, q.dropped)
                }
                return (false, false, nil)
            }
            q.records.append(record)
            q.captureBytes += bytes
            q.enqueued += 1
            return (true, q.records.count >= limits.batchSize, nil)
        }
        if let dropped = logDrop {
            logger.critical("history queue is full: records are being dropped", metadata: ["dropped_total": "\(dropped)"])
        }
        if accepted && wakeNow { wake.signal() }
    }

    // MARK: Service

    public func run() async throws {
        let stopping = Mutex(false)
        await withGracefulShutdownHandler {
            var failures = 0
            while !stopping.withLock({ $0 }) && !Task.isCancelled {
                // Wait for the window or an early wake-up, then write what has gathered.
                await self.wake.wait(upTo: self.backoff(failures))
                failures = await self.flush() ? 0 : failures + 1
            }
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
            self.wake.signal()
        }
        // The core closed its sessions before this service is asked to stop: write all of it.
        // Detached, so that a group cancelled by another service's failure still gets its flush.
        await Task.detached {
            for attempt in 0..<20 {
                if await self.flush(), self.queue.withLock({ $0.records.isEmpty }) { break }
                try? await Task.sleep(for: .milliseconds(100 * (attempt + 1)))
            }
        }.value
        let health = self.health
        if health.queued > 0 {
            logger.critical("history writer stopped with records it could not write", metadata: ["lost": "\(health.queued)"])
        }
    }

    private func backoff(_ failures: Int) -> Duration {
        failures == 0 ? limits.batchWindow : .milliseconds(min(5_000, 100 << min(failures, 6)))
    }

    /// Writes what is queued; answers false when SQLite refused it (the records stay queued).
    @discardableResult
    func flush() async -> Bool {
        let now = ContinuousClock.now
        let taken = queue.withLock { q -> ([Record], UInt64)? in
            // Sampled once per batch window: the depth just before the writer takes a batch.
            instruments.queueDepth.record(q.records.count)
            if q.records.isEmpty, let last = q.lastWrite, now - last < Self.heartbeat, q.problem == nil {
                return nil
            }
            let batch = q.records
            q.records.removeAll(keepingCapacity: true)
            q.captureBytes = 0
            q.lastWrite = now
            return (batch, q.enqueued)
        }
        guard let (batch, target) = taken else { return true }
        do {
            let started = ContinuousClock.now
            try await database.write(Self.coalesced(batch), aliveAt: Date())
            instruments.writeDuration.record(duration: ContinuousClock.now - started)
            if !batch.isEmpty {
                instruments.batchRecords.record(batch.count)
                instruments.written.increment(by: batch.count)
            }
            let recovered = queue.withLock { q -> Bool in
                q.written += UInt64(batch.count)
                q.flushedThrough = max(q.flushedThrough, target)
                defer { q.problem = nil }
                return q.problem != nil
            }
            if recovered { logger.notice("history writes recovered", metadata: ["written": "\(batch.count)"]) }
            return true
        } catch {
            instruments.failures.increment()
            let first = queue.withLock { q -> Bool in
                // Put the batch back in front of what came in meanwhile, within the bound.
                let room = max(0, limits.maxQueuedRecords - q.records.count)
                let kept = Array(batch.prefix(room))
                q.dropped += UInt64(batch.count - kept.count)
                if batch.count > kept.count { instruments.dropped.increment(by: batch.count - kept.count) }
                instruments.queueDepth.record(q.records.count + kept.count)
                q.records.insert(contentsOf: kept, at: 0)
                q.captureBytes = q.records.reduce(0) { $0 + $1.dataBytes }
                defer { q.problem = "history writes are failing: \(ErrorSummary.of(error))" }
                return q.problem == nil
            }
            if first { logger.error("history writes are failing; keeping records and retrying", metadata: ["error": "\(error)"]) }
            return false
        }
    }

    /// A session opened and closed within one batch needs one row write, not two: keep the last
    /// record of each session (it carries everything the first did).
    static func coalesced(_ batch: [Record]) -> [Record] {
        var seen = Set<String>()
        seen.reserveCapacity(batch.count)
        var kept: [Record] = []
        kept.reserveCapacity(batch.count)
        for record in batch.reversed() {
            if let id = record.sessionID, !seen.insert(id).inserted { continue }
            kept.append(record)
        }
        return kept.reversed()
    }

    /// Waits until everything enqueued before the call is in the file (for tests and shutdown).
    public func waitUntilWritten(timeout: Duration = .seconds(10)) async -> Bool {
        let target = queue.withLock { $0.enqueued }
        let deadline = ContinuousClock.now + timeout
        wake.signal()
        while queue.withLock({ $0.flushedThrough < target }) {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}
