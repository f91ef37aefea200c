import Synchronization

/// Runs `body`, or throws once `limit` has passed: a server that stopped answering (a host
/// gone, a connection the network dropped without a word) must not hold the writer, the lease
/// or a shutdown for as long as TCP would wait. The body runs in a task of its own and is
/// cancelled then; the caller does not wait for it to notice (a structured task group would).
struct DeadlinePassed: Error, CustomStringConvertible {
    let what: String
    let limit: Duration
    var description: String { "\(what) gave no answer within \(limit)" }
}

/// Whichever of the body and the timer finishes first resumes the caller, once.
private final class Race<T: Sendable>: Sendable {
    let waiting = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let tasks = Mutex<(work: Task<Void, Never>?, timer: Task<Void, Never>?)>((nil, nil))
}

@discardableResult
func withDeadline<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = Race<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.waiting.withLock { $0 = continuation }
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                race.tasks.withLock { $0.timer }?.cancel()
                race.waiting.withLock { $0.take() }?.resume(with: result)
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                guard !Task.isCancelled, let continuation = race.waiting.withLock({ $0.take() }) else { return }
                work.cancel()
                continuation.resume(throwing: DeadlinePassed(what: what, limit: limit))
            }
            race.tasks.withLock { $0 = (work, timer) }
        }
    } onCancel: {
        let (work, timer) = race.tasks.withLock { $0 }
        work?.cancel()
        timer?.cancel()
    }
}
