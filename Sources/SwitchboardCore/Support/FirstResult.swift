import Synchronization

/// Lets one task wait for the first of many signals.
final class FirstResult: Sendable {
    let state = Mutex<(done: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func resume() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.done else { return nil }
            s.done = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> Bool in
                if s.done { return true }
                s.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
