import Synchronization

/// A wake-up call that is never lost: a signal with nobody waiting is kept for the next wait.
/// One waiter at a time; `signal()` never blocks, so event loops may call it. Used by the history
/// writer and the live-event streams.
public final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let waiter = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns on a signal, after `timeout`, or when the task is cancelled, whichever comes first.
    public func wait(upTo timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let ready = self.state.withLock { s -> Bool in
                            if s.pending || Task.isCancelled {
                                s.pending = false
                                return true
                            }
                            s.waiter = continuation
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                } onCancel: {
                    let waiter = self.state.withLock { s -> CheckedContinuation<Void, Never>? in
                        defer { s.waiter = nil }
                        return s.waiter
                    }
                    waiter?.resume()
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }
}
