import NIOCore

/// Operator sends: bounded, in order, counted when the socket took them, and withdrawn when
/// the caller goes away.
///
/// A peer that does not read must not make the service buffer without end, and `bytes_out`
/// must say what left, not what was asked for. So a send is refused once the session holds
/// `limit` bytes that its socket has not taken; it is written in slices, each counted when its
/// write completes; and a cancelled send (its HTTP client went away) writes no further slice.
extension Session {
    /// Bytes of one write: the most a close in the middle of a send can leave uncounted.
    static let sendSlice = 64 * 1024

    /// Writes `data` to the peer; answers once the socket took all of it, with how many bytes it
    /// took (fewer only when the caller was cancelled). One send at a time writes; later ones
    /// wait their turn, so two sends never interleave.
    @discardableResult
    func send(_ data: ByteBuffer, unsentLimit: Int) async throws(SwitchboardError) -> Int {
        let size = data.readableBytes
        let admitted = mutable.withLock { m -> Result<any Channel, SwitchboardError> in
            guard m.closedAt == nil, let channel = m.channel else { return .failure(.sessionClosed(id)) }
            // One send of any size may always wait alone: the body limit bounds it already.
            guard m.unsent == 0 || m.unsent + size <= unsentLimit else {
                return .failure(SwitchboardError(
                    .sendQueueFull,
                    "session \(id) holds \(m.unsent) bytes its peer has not taken yet, and may hold \(unsentLimit); send again once the peer reads, or close the session"
                ))
            }
            m.unsent += size
            return .success(channel)
        }
        let channel = try admitted.get()
        var unwritten = size
        defer { if unwritten > 0 { mutable.withLock { $0.unsent -= unwritten } } }
        do {
            try await takeSendTurn()
        } catch {
            return 0
        }
        defer { passSendTurn() }
        var rest = data
        var taken = 0
        while rest.readableBytes > 0 {
            guard !Task.isCancelled else { return taken }
            let slice = rest.readSlice(length: min(Self.sendSlice, rest.readableBytes))!
            unwritten -= slice.readableBytes
            let promise = channel.eventLoop.makePromise(of: Void.self)
            let write = promise.futureResult
            // Counted by the write itself, also when the caller stopped waiting for it; attached
            // before the write is made, so that it runs before a reset closes the channel.
            write.whenComplete { [self] result in
                mutable.withLock { $0.unsent -= slice.readableBytes }
                switch result {
                case .success: countSent(slice)
                // A peer that resets while this write is queued may be noticed by the write, not a
                // read; its failure comes before the channel goes inactive, so the reason is kept.
                case .failure(let error): if CloseReason(error) == .reset { noteCloseReason(.reset) }
                }
            }
            channel.writeAndFlush(slice, promise: promise)
            do {
                try await Self.waitCancellably(for: write)
            } catch is CancellationError {
                return taken
            } catch {
                throw isOpen ? SwitchboardError(.sessionClosed, "session \(id) could not write: \(error)") : .sessionClosed(id)
            }
            taken += slice.readableBytes
        }
        return taken
    }

    private func countSent(_ slice: ByteBuffer) {
        if case .forward = behaviour { relayed(.out, slice) } else { sent(slice) }
    }

    private func takeSendTurn() async throws {
        let key = Int.random(in: .min ... .max)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (turn: CheckedContinuation<Void, any Error>) in
                let now = mutable.withLock { m -> Result<Void, any Error>? in
                    // Cancelled before it queued: the cancellation handler found nothing to end.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    guard m.sending else {
                        m.sending = true
                        return .success(())
                    }
                    m.sendQueue.append((key, turn))
                    return nil
                }
                if let now { turn.resume(with: now) }
            }
        } onCancel: {
            let waiting = mutable.withLock { m -> CheckedContinuation<Void, any Error>? in
                guard let index = m.sendQueue.firstIndex(where: { $0.key == key }) else { return nil }
                return m.sendQueue.remove(at: index).turn
            }
            waiting?.resume(throwing: CancellationError())
        }
    }

    private func passSendTurn() {
        let next = mutable.withLock { m -> CheckedContinuation<Void, any Error>? in
            guard !m.sendQueue.isEmpty else {
                m.sending = false
                return nil
            }
            return m.sendQueue.removeFirst().turn
        }
        next?.resume()
    }

    /// Waits for a write; a cancelled caller stops waiting (the write goes on, and still counts).
    private static func waitCancellably(for write: EventLoopFuture<Void>) async throws {
        let once = OnceContinuation()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                once.set(continuation)
                write.whenComplete { once.resume(with: $0) }
            }
        } onCancel: {
            once.resume(with: .failure(CancellationError()))
        }
    }
}
