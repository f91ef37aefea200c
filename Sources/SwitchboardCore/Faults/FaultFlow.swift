import Foundation
import NIOCore

/// One direction of a fault stage: what its faults do to each chunk, and the chunks (and the
/// close that follows them) held until their time, in the order they came. Pure bookkeeping,
/// given the time; the stage moves the bytes and keeps the timers.
struct FaultFlow {
    enum Held {
        case data(ByteBuffer, EventLoopPromise<Void>?)
        /// The peer's FIN (inbound).
        case inputClosed
        /// The channel went inactive (inbound): passed on once what came before it is.
        case inactive
        /// A close asked for by the handlers behind the stage (outbound).
        case close(CloseMode, EventLoopPromise<Void>?)
        /// `limit_data` reached: the stage closes the connection here.
        case closeConnection
    }

    struct Item {
        var held: Held
        let arrived: NIODeadline
        var due: NIODeadline
        var bytes: Int {
            if case .data(let buffer, _) = held { return buffer.readableBytes }
            return 0
        }
    }

    /// What one chunk came to, for the metrics and the stage.
    struct Outcome {
        var dropped = 0
        var corrupted = 0
        var delayed = 0
        /// `reset_peer`: the first data arrived; the stage resets after the fault's timeout.
        var armReset = false
    }

    private(set) var rules: FaultRules
    private var queue = CircularBuffer<Item>(initialCapacity: 4)
    private(set) var heldBytes = 0
    private var passed: Int64 = 0
    private var lastDue = NIODeadline.uptimeNanoseconds(0)
    /// When the bandwidth allows the next byte out.
    private var cursor = NIODeadline.uptimeNanoseconds(0)
    private var corruptLeft: Int64
    /// The limit was reached or a reset is coming: nothing passes any more.
    private var finished = false
    private var resetArmed = false

    init(rules: FaultRules) {
        self.rules = rules
        self.corruptLeft = rules.corruptCount
    }

    var isEmpty: Bool { queue.isEmpty }
    var nextDue: NIODeadline? { queue.first?.due }

    mutating func take(_ data: ByteBuffer, promise: EventLoopPromise<Void>?, now: NIODeadline) -> Outcome {
        var outcome = Outcome()
        var data = data
        if rules.resetAfter != nil {
            if !resetArmed {
                resetArmed = true
                outcome.armReset = true
            }
            finished = true
        }
        if finished || rules.swallows {
            outcome.dropped = data.readableBytes
            promise?.succeed()
            return outcome
        }
        var closesAfter = false
        if let limit = rules.limit, passed + Int64(data.readableBytes) >= limit {
            // A limit lowered below what has passed already (PATCH) leaves no room at all.
            let room = Int(max(0, limit - passed))
            outcome.dropped = data.readableBytes - room
            data = data.getSlice(at: data.readerIndex, length: room) ?? ByteBuffer()
            closesAfter = true
            finished = true
        }
        passed += Int64(data.readableBytes)
        if corruptLeft > 0 || rules.corrupts {
            outcome.corrupted = corrupt(&data)
        }
        guard closesAfter else {
            outcome.delayed = schedule(data, promise: promise, now: now)
            return outcome
        }
        // What passes the limit is thrown away, so the writer is done with it now.
        promise?.succeed()
        if data.readableBytes > 0 { outcome.delayed = schedule(data, promise: nil, now: now) }
        append(Item(held: .closeConnection, arrived: now, due: max(now, lastDue)))
        return outcome
    }

    /// A FIN or a close: after everything before it, and `slow_close` later than it came.
    mutating func takeEnd(_ held: Held, now: NIODeadline) {
        append(Item(held: held, arrived: now, due: max(now + rules.slowClose, lastDue)))
    }

    /// Whether an end can pass at once: nothing held, no slow close.
    var passesEndAtOnce: Bool { queue.isEmpty && rules.slowClose == .zero }

    mutating func popDue(_ now: NIODeadline) -> Item? {
        guard let first = queue.first, first.due <= now else { return nil }
        let item = queue.removeFirst()
        heldBytes -= item.bytes
        return item
    }

    mutating func popAny() -> Item? {
        guard !queue.isEmpty else { return nil }
        let item = queue.removeFirst()
        heldBytes -= item.bytes
        return item
    }

    /// New rules for what comes next, and for what is held: each held chunk is due again as if
    /// the new rules had met it when it came, so removing a delay delivers what it held at once.
    mutating func change(to rules: FaultRules, now: NIODeadline) {
        if rules.corruptCount != self.rules.corruptCount { corruptLeft = rules.corruptCount }
        if rules.resetAfter == nil && self.rules.resetAfter != nil && !resetArmed { finished = false }
        self.rules = rules
        cursor = now
        lastDue = .uptimeNanoseconds(0)
        for index in queue.indices {
            let item = queue[index]
            let due: NIODeadline
            if case .data(let buffer, _) = item.held {
                due = dueTime(bytes: buffer.readableBytes, readyAt: delayed(item.arrived))
            } else {
                due = max(item.arrived + rules.slowClose, lastDue)
            }
            queue[index].due = due
            lastDue = due
        }
    }

    // MARK: Inside

    private mutating func append(_ item: Item) {
        heldBytes += item.bytes
        lastDue = max(lastDue, item.due)
        queue.append(item)
    }

    private func delayed(_ arrived: NIODeadline) -> NIODeadline {
        var at = arrived + rules.latency
        if rules.jitter > .zero {
            let spread = rules.jitter.nanoseconds
            at = at + .nanoseconds(Int64.random(in: -spread...spread))
            if at < arrived { at = arrived }
        }
        return at
    }

    /// When a piece may go: not before it is ready, not before the one ahead of it, and not
    /// before the bandwidth allows it; the bandwidth's cursor moves past it.
    private mutating func dueTime(bytes: Int, readyAt: NIODeadline) -> NIODeadline {
        var due = max(readyAt, lastDue)
        if let rate = rules.rate {
            due = max(due, cursor)
            cursor = due + .nanoseconds(Int64(bytes) * 1_000_000_000 / rate)
        }
        return due
    }

    /// Queues the chunk in pieces (slicer, bandwidth); answers how many bytes wait.
    private mutating func schedule(_ data: ByteBuffer, promise: EventLoopPromise<Void>?, now: NIODeadline) -> Int {
        guard rules.delays || !queue.isEmpty else {
            append(Item(held: .data(data, promise), arrived: now, due: now))
            return 0
        }
        var ready = delayed(now)
        var rest = data
        var delayedBytes = 0
        // At most 10 ms of the rate in one write keeps a throttled stream smooth.
        let ratePiece = rules.rate.map { max(1, Int($0 / 100)) } ?? Int.max
        while rest.readableBytes > 0 {
            var size = rest.readableBytes
            if let slice = rules.slice {
                let variation = slice.variation > 0 ? Int.random(in: -slice.variation...slice.variation) : 0
                size = min(size, max(1, slice.average + variation))
            }
            size = min(size, ratePiece)
            let piece = rest.readSlice(length: size)!
            let due = dueTime(bytes: size, readyAt: ready)
            if due > now { delayedBytes += size }
            // The writer learns its bytes went once the last piece has.
            append(Item(held: .data(piece, rest.readableBytes == 0 ? promise : nil), arrived: now, due: due))
            if let slice = rules.slice { ready = due + slice.delay }
        }
        if data.readableBytes == 0 { promise?.succeed() }
        return delayedBytes
    }

    /// Flips one bit in each byte chosen: the next `count` bytes, or each with the probability.
    private mutating func corrupt(_ data: inout ByteBuffer) -> Int {
        let length = data.readableBytes
        guard length > 0 else { return 0 }
        var positions: [Int] = []
        if corruptLeft > 0 {
            let count = Int(min(corruptLeft, Int64(length)))
            corruptLeft -= Int64(count)
            positions = Array(0..<count)
        } else {
            let p = rules.corruptProbability
            if p >= 1 {
                positions = Array(0..<length)
            } else {
                // The gaps between corrupted bytes are geometric: one draw per corrupted byte.
                var index = -1
                while true {
                    let u = Double.random(in: Double.leastNonzeroMagnitude..<1)
                    // A probability too small for a Double's 1 - p gives no finite gap: none.
                    let gap = (Foundation.log(u) / Foundation.log(1 - p)).rounded(.down)
                    guard gap.isFinite, gap < Double(length - 1 - index) else { break }
                    index += 1 + Int(gap)
                    positions.append(index)
                }
            }
        }
        for offset in positions {
            let at = data.readerIndex + offset
            let byte = data.getInteger(at: at, as: UInt8.self)!
            data.setInteger(byte ^ (1 << UInt8.random(in: 0..<8)), at: at)
        }
        return positions.count
    }
}
