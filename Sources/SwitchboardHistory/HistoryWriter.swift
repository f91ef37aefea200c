import Foundation
import GRDB
import Logging
import Metrics
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// Records what the core reports into the history file: a single writer, off the event loops,
/// one transaction per batch.
///
/// The core's callbacks only append, so the socket path never waits for SQLite: sessions to
/// the spool (a shared mapping the kernel keeps when the process is killed) when there is one,
/// captured bytes (and sessions without a spool) to a bounded in-memory queue. When SQLite
/// cannot write (disk full, read-only or deleted file) both keep their records and the writer
/// retries; past their bounds new records are dropped, counted and logged.
public final class HistoryWriter: SwitchboardObserver, Service {
    /// What waits in memory; the spool's records go from the spool to the store.
    enum Record: Sendable {
        /// As the core reported it: turned into a row only if coalescing keeps it, on the
        /// writer's task rather than the event loop.
        case sessionInfo(SessionInfo)
        case message(MessageRecord)

        var sessionID: SessionID? {
            switch self {
            case .sessionInfo(let info): info.id
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
        /// Captured bytes; sessions too when there is no spool.
        var records: [Record] = []
        var captureBytes = 0
        var dropped: UInt64 = 0
        var written: UInt64 = 0
        var problem: String?
        var lastDropLog: ContinuousClock.Instant?
        var flushedThrough: UInt64 = 0
        var enqueued: UInt64 = 0
        var lastWrite: ContinuousClock.Instant?
        /// Set while the path no longer leads to the file SQLite writes (deleted, replaced).
        var fileProblem: String?
        var lastFileCheck: ContinuousClock.Instant?
    }

    /// An idle writer still notes once a second that the service is alive, for `interrupted` times.
    static let heartbeat = Duration.seconds(1)
    /// A sealed spool segment is committed this many records per transaction: a segment that
    /// filled during an outage is never decoded into memory at once.
    static let spoolChunk = 20_000

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

    private let database: any HistoryStore
    private let spool: SessionSpool?
    private let limits: Limits
    private let logger: Logger
    private let queue = Mutex(Queue())
    private let wake = Wakeup()
    private let instruments: Instruments

    /// `metrics` is the bootstrapped `MetricsSystem.factory` unless a test passes its own.
    /// Without a `spool` sessions wait in memory, and a SIGKILL loses the last batch window.
    public init(
        database: any HistoryStore, spool: SessionSpool? = nil, limits: Limits = .init(), logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.database = database
        self.spool = spool
        self.limits = limits
        self.logger = logger
        self.instruments = Instruments(factory: metrics)
    }

    /// The store's own problem is asked for now, not the one the writer last noted: a write
    /// that hangs on a server that went away must not keep `/readyz` saying ready.
    public var health: Health {
        let spooled = spool?.pending ?? 0
        let store = database.problem()
        return queue.withLock {
            Health(problem: store ?? $0.problem, queued: $0.records.count + spooled, dropped: $0.dropped, written: $0.written)
        }
    }

    // MARK: SwitchboardObserver (called on event loops: append and return)

    public func sessionOpened(_ session: SessionInfo) { record(session) }
    public func sessionClosed(_ session: SessionInfo) { record(session) }
    /// Captured bytes stay in memory: copying every chunk into the spool would cost the socket
    /// path a second copy of all captured traffic, and a SIGKILL loses at most one batch window of them.
    public func sessionCaptured(_ chunk: CapturedChunk) { enqueue(.message(MessageRecord(chunk))) }

    private func record(_ session: SessionInfo) {
        guard let spool else { return enqueue(.sessionInfo(session)) }
        let faults = SpoolFaults.text(session.faults)
        guard let waiting = spool.append(session, faults: faults.text) else {
            return noteDrop("history spool is full: session records are being dropped")
        }
        // A log past the spool's budget: the spool keeps what fits, SQLite gets the rest from
        // here (the longer log wins in the file, whichever is written last).
        if !faults.complete { enqueue(.sessionInfo(session)) }
        // Once per batch's worth, not on every append past it.
        if waiting % limits.batchSize == 0 { wake.signal() }
    }

    private func enqueue(_ record: Record) {
        let (accepted, wakeNow) = queue.withLock { q -> (Bool, Bool) in
            let bytes = record.dataBytes
            guard q.records.count < limits.maxQueuedRecords, q.captureBytes + bytes <= limits.maxQueuedCaptureBytes else {
                return (false, false)
            }
            q.records.append(record)
            q.captureBytes += bytes
            q.enqueued += 1
            return (true, q.records.count >= limits.batchSize)
        }
        if !accepted { noteDrop("history queue is full: records are being dropped") }
        if accepted && wakeNow { wake.signal() }
    }

    private func noteDrop(_ message: Logger.Message) {
        let logDrop = queue.withLock { q -> UInt64? in
            q.dropped += 1
            instruments.dropped.increment()
            let now = ContinuousClock.now
            // Loud, but one line a second at most: a full disk must not also flood the log.
            guard q.lastDropLog.map({ now - $0 > .seconds(1) }) ?? true else { return nil }
            q.lastDropLog = now
            return q.dropped
        }
        if let dropped = logDrop {
            logger.critical(message, metadata: ["dropped_total": "\(dropped)"])
        }
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
                if await self.flush(), self.queue.withLock({ $0.records.isEmpty }), (self.spool?.pending ?? 0) == 0 { break }
                // Retrying cannot bring a deleted file back.
                if self.queue.withLock({ $0.fileProblem != nil }) { break }
                try? await Task.sleep(for: .milliseconds(100 * (attempt + 1)))
            }
        }.value
        let inMemory = queue.withLock { $0.records.count }
        if inMemory > 0 {
            logger.critical("history writer stopped with records it could not write", metadata: ["lost": "\(inMemory)"])
        }
        if let spooled = spool?.pending, spooled > 0 {
            logger.critical("history writer stopped with session records it could not write; they stay in the spool for the next start", metadata: [
                "spooled": "\(spooled)", "spool": "\(spool?.path ?? "")",
            ])
        }
    }

    private func backoff(_ failures: Int) -> Duration {
        failures == 0 ? limits.batchWindow : .milliseconds(min(5_000, 100 << min(failures, 6)))
    }

    /// Writes what is queued; answers false when SQLite refused it (the records stay queued).
    @discardableResult
    func flush() async -> Bool {
        let now = ContinuousClock.now
        // Writing on into a file nobody will open again would lose it all: keep it instead (in
        // the spool, replayed into the file the next start opens).
        guard checkFile(now) == nil else { return false }
        let spooled = spool?.pending ?? 0
        let sealed = spool?.seal()
        let taken = queue.withLock { q -> ([Record], UInt64)? in
            // Sampled once per batch window: the depth just before the writer takes a batch.
            instruments.queueDepth.record(q.records.count + spooled)
            if q.records.isEmpty, sealed == nil, let last = q.lastWrite, now - last < Self.heartbeat, q.problem == nil {
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
            var records = batch.count
            if let sealed, let spool {
                // Chunks in sequence order; the memory batch goes with the last. A chunk that
                // fails leaves the segment sealed and the next attempt starts it over: every
                // write is an upsert that never reopens a closed session.
                var offset = SessionSpool.segmentHeaderBytes
                var last = false
                while !last {
                    var latest = SpoolRecord.Latest(capacity: min(Self.spoolChunk, sealed.count))
                    let (count, next) = spool.read(sealed, from: offset, limit: Self.spoolChunk) { latest.add($0) }
                    offset = next
                    last = offset >= sealed.end
                    try await write(spooled: latest.sessions, last ? Self.coalesced(batch) : [])
                    records += count
                }
                spool.release(sealed)
            } else {
                try await write(spooled: [], Self.coalesced(batch))
            }
            instruments.writeDuration.record(duration: ContinuousClock.now - started)
            if records > 0 {
                instruments.batchRecords.record(records)
                instruments.written.increment(by: records)
            }
            let recovered = queue.withLock { q -> Bool in
                q.written += UInt64(records)
                q.flushedThrough = max(q.flushedThrough, target)
                defer { q.problem = nil }
                return q.problem != nil
            }
            if recovered { logger.notice("history writes recovered", metadata: ["written": "\(batch.count)"]) }
            return true
        } catch {
            // A cancelled write (the service stopping, e.g. a start that failed) is no failure of
            // SQLite: the records go back, and the final flush, detached, writes them.
            let cancelled = error is CancellationError
            if !cancelled { instruments.failures.increment() }
            let first = queue.withLock { q -> Bool in
                // Put the batch back in front of what came in meanwhile, within the bound.
                let room = max(0, limits.maxQueuedRecords - q.records.count)
                let kept = Array(batch.prefix(room))
                q.dropped += UInt64(batch.count - kept.count)
                if batch.count > kept.count { instruments.dropped.increment(by: batch.count - kept.count) }
                instruments.queueDepth.record(q.records.count + kept.count)
                q.records.insert(contentsOf: kept, at: 0)
                q.captureBytes = q.records.reduce(0) { $0 + $1.dataBytes }
                if cancelled { return false }
                defer { q.problem = "history writes are failing: \(ErrorSummary.of(error))" }
                return q.problem == nil
            }
            if first { logger.error("history writes are failing; keeping records and retrying", metadata: ["error": "\(error)"]) }
            return false
        }
    }

    /// One transaction of the store's: the spool's sessions and then the records from memory,
    /// sessions as rows, captured bytes as messages.
    private func write(spooled: consuming [SessionRecord], _ records: [Record]) async throws {
        // Taken over, not copied: with the spool on, the records from memory are few or none.
        var sessions = spooled
        var messages: [MessageRecord] = []
        for record in records {
            switch record {
            case .sessionInfo(let info): sessions.append(SessionRecord(info))
            case .message(let m): messages.append(m)
            }
        }
        try await database.write(sessions: sessions, messages: messages, aliveAt: Date())
    }

    /// Notes, at most once a second, whether the store can still be written where readers look
    /// (the path leads to the open file; the instance's lease is held); returns the problem if not.
    private func checkFile(_ now: ContinuousClock.Instant) -> String? {
        let (due, known) = queue.withLock { q -> (Bool, String?) in
            guard q.lastFileCheck.map({ now - $0 >= Self.heartbeat }) ?? true else { return (false, q.fileProblem) }
            q.lastFileCheck = now
            return (true, q.fileProblem)
        }
        guard due else { return known }
        let problem = database.problem()
        if problem != known {
            queue.withLock { $0.fileProblem = problem }
            if let problem {
                logger.critical("\(problem)", metadata: [
                    "history": "\(database.location)", "spool": "\(spool?.path ?? "none")",
                ])
            } else {
                logger.notice("the history can be written again", metadata: ["history": "\(database.location)"])
            }
        }
        return problem
    }

    /// A session opened and closed within one batch needs one row write, not two: keep the last
    /// record of each session (it carries everything the first did).
    static func coalesced(_ batch: [Record]) -> [Record] {
        var seen = Set<SessionID>()
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
        let spoolTarget = spool?.progress.appended ?? 0
        let deadline = ContinuousClock.now + timeout
        wake.signal()
        while queue.withLock({ $0.flushedThrough < target }) || (spool?.progress.committed ?? 0) < spoolTarget {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}
