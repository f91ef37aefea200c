import Foundation
import NIOCore
import Synchronization

/// Keeps one named outbound session connected: connects, waits for the connection to end,
/// waits out the backoff, connects again. Each connection is a session of its own, under the
/// same name.
final class Reconnector: Sendable {
    let spec: ConnectSpec
    let name: String
    let createdAt: Date
    private let policy: ReconnectPolicy

    private struct Mutable {
        var state: ReconnectStatus.State = .connecting
        var session: Session?
        /// Failed attempts since the last connection (what the status shows).
        var failures = 0
        /// Steps of the backoff: failed attempts and connections that ended within
        /// `stableAfter`, since the last connection that stayed up longer.
        var backoffStep = 0
        var connectedAt: ContinuousClock.Instant?
        var nextAttemptAt: Date?
        var lastError: String?
        var task: Task<Void, Never>?
        var stopped = false
        var faults: [Fault]
        /// Called when the loop ends or is stopped, whichever is first (it must be idempotent).
        var finished: (@Sendable () -> Void)?

        var isStable: Bool {
            connectedAt.map { ContinuousClock.now - $0 >= ReconnectPolicy.stableAfter } ?? false
        }
    }
    private let mutable: Mutex<Mutable>

    init(spec: ConnectSpec, name: String, createdAt: Date) {
        self.spec = spec
        self.name = name
        self.createdAt = createdAt
        self.policy = spec.reconnect ?? ReconnectPolicy()
        self.mutable = Mutex(Mutable(faults: spec.faults))
    }

    /// Its faults now: those it was created with, as changed since.
    var faults: [Fault] {
        get { mutable.withLock { $0.faults } }
        set { mutable.withLock { $0.faults = newValue } }
    }

    var status: ReconnectStatus {
        mutable.withLock { m in
            ReconnectStatus(
                name: name, endpoint: spec.endpoint.description, state: m.state, sessionID: m.session?.id,
                failures: m.failures, nextAttemptAt: m.nextAttemptAt, lastError: m.lastError, faults: m.faults
            )
        }
    }

    var currentSession: Session? { mutable.withLock { $0.session } }

    /// Starts the loop; `report` is called at every change of state, `finished` once the loop
    /// has ended (stopped), so nobody waits on a report that will not come.
    func start(
        open: @escaping @Sendable (ConnectSpec) async throws(SwitchboardError) -> Session,
        report: @escaping @Sendable (ReconnectStatus) -> Void,
        finished: @escaping @Sendable () -> Void
    ) {
        mutable.withLock { $0.finished = finished }
        let task = Task { [self] in
            defer { finished() }
            while !Task.isCancelled && !isStopped {
                update(report) { $0.state = .connecting; $0.nextAttemptAt = nil }
                let step: Int
                do throws(SwitchboardError) {
                    let session = try await open(spec)
                    let stopped = mutable.withLock { m -> Bool in
                        guard !m.stopped else { return true }
                        m.state = .connected
                        m.session = session
                        m.failures = 0
                        m.connectedAt = .now
                        m.lastError = nil
                        return false
                    }
                    if stopped {
                        // Stopped while this attempt was connecting: nobody else will close it.
                        await session.close(reset: false)
                        break
                    }
                    report(status)
                    try? await session.closeFuture.get()
                    let reason = session.info.closeReason?.description ?? "closed"
                    step = mutable.withLock { m in
                        // Up long enough: a drop, and the backoff starts over. Shorter: flapping,
                        // which backs off like a failed attempt.
                        m.backoffStep = m.isStable ? 0 : m.backoffStep + 1
                        m.connectedAt = nil
                        m.lastError = "connection ended: \(reason)"
                        return m.backoffStep
                    }
                } catch {
                    step = mutable.withLock { m in
                        m.failures += 1
                        m.backoffStep += 1
                        m.lastError = error.message
                        return m.backoffStep
                    }
                }
                if Task.isCancelled || isStopped { break }
                let delay = policy.delay(afterFailures: Swift.max(0, step - 1))
                let next = Date().addingTimeInterval(delay.inSeconds)
                update(report) { m in
                    m.state = .waiting
                    m.nextAttemptAt = next
                }
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    break
                }
            }
        }
        // A stop that came before the task was stored could not cancel it: do it now.
        let stoppedAlready = mutable.withLock { m -> Bool in
            m.task = task
            return m.stopped
        }
        if stoppedAlready { task.cancel() }
    }

    private var isStopped: Bool { mutable.withLock { $0.stopped } }

    private func update(_ report: @Sendable (ReconnectStatus) -> Void, _ change: (inout Mutable) -> Void) {
        let stopped = mutable.withLock { m -> Bool in
            guard !m.stopped else { return true }
            change(&m)
            return false
        }
        if !stopped { report(status) }
    }

    /// Never started: what was stored cannot be understood; listed stopped with why.
    func markUnrestorable(_ problem: String) {
        mutable.withLock { m in
            m.stopped = true
            m.state = .stopped
            m.lastError = problem
        }
    }

    /// No more attempts. The caller closes the current session, if open, and then awaits the task.
    func stop() -> (task: Task<Void, Never>?, session: Session?) {
        let (task, session, finished) = mutable.withLock { m in
            m.stopped = true
            m.state = .stopped
            m.nextAttemptAt = nil
            return (m.task, m.session, m.finished)
        }
        task?.cancel()
        finished?()
        return (task, session)
    }
}
