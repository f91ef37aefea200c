import Synchronization

/// A continuation resumed by whichever comes first of several callers (a completed future and
/// a cancellation; the reports of a reconnecting session's first attempt), the others being
/// no-ops; a result that comes before the wait is kept and delivered when it starts.
final class OnceContinuation: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Void, any Error>?
        var result: Result<Void, any Error>?
        var done = false
    }
    private let state = Mutex(State())

    func set(_ continuation: CheckedContinuation<Void, any Error>) {
        let early = state.withLock { s -> Result<Void, any Error>? in
            guard let result = s.result else {
                s.continuation = continuation
                return nil
            }
            s.result = nil
            return result
        }
        if let early { continuation.resume(with: early) }
    }

    /// Waits for the first result; only one task may wait.
    func wait() async throws {
        try await withCheckedThrowingContinuation { set($0) }
    }

    func resume(with result: Result<Void, any Error>) {
        let continuation = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            guard !s.done else { return nil }
            s.done = true
            guard let continuation = s.continuation else {
                s.result = result
                return nil
            }
            s.continuation = nil
            return continuation
        }
        continuation?.resume(with: result)
    }
}
