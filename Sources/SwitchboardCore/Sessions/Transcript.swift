import DequeModule
import Foundation
import NIOCore

/// One chunk a session received (`in`) or sent (`out`), numbered in the order it happened.
public struct Message: Sendable {
    public enum Direction: String, Sendable, Codable { case `in`, out }
    public let seq: UInt64
    public let direction: Direction
    public let at: Date
    public let data: ByteBuffer
}

/// The messages an operator reads from `GET /v1/sessions/{id}/messages`.
public struct MessagePage: Sendable {
    public let messages: [Message]
    /// The `after` to ask with next time.
    public let next: UInt64
    /// The lowest sequence number still held, when older messages were let go.
    public let firstRetained: UInt64?
    /// The peer shut its write side (FIN) while the session stays open (hold listeners): no
    /// more messages will come in.
    public var peerFinished = false
}

/// What a session received and sent, kept in memory for the operator to read.
///
/// Inbound bytes the operator has not read yet are never dropped: the caller stops reading
/// from the peer once `unreadInboundBytes` reaches its limit (TCP backpressure). Bytes already
/// read, and everything sent, are kept up to `retention` bytes per direction so a reader can
/// look back, then let go oldest first.
struct Transcript {
    // Deques allocate nothing until their first message, then room for about one, and grow by
    // doubling: an idle session pays only for what it exchanged. CircularBuffer's default (16
    // entries) was measured at 1.5 KiB of every idle session, and even 2 entries (the smallest
    // ring that holds one) cost 136 bytes per direction, also for a direction never used.
    private var inbound = Deque<Message>()
    private var outbound = Deque<Message>()
    private var nextSeq: UInt64 = 1
    private(set) var deliveredThrough: UInt64 = 0
    private(set) var unreadInboundBytes = 0
    private var readInboundBytes = 0
    private var outboundBytes = 0
    /// Sessions nobody reads by design (echo, reply) count what they receive as read at once.
    let operatorReads: Bool
    let retention: Int

    /// Consecutive unread inbound chunks are merged up to this size, which bounds the number of
    /// entries a peer sending one byte at a time can create.
    static let coalesceLimit = 64 * 1024
    static let maxEntriesPerDirection = 4096

    init(operatorReads: Bool, retention: Int) {
        self.operatorReads = operatorReads
        self.retention = retention
    }

    var lastSeq: UInt64 { nextSeq - 1 }
    var retainedBytes: Int { unreadInboundBytes + readInboundBytes + outboundBytes }

    mutating func append(_ direction: Message.Direction, _ data: ByteBuffer, at date: Date) {
        guard data.readableBytes > 0 else { return }
        switch direction {
        case .in:
            if operatorReads, var last = inbound.last, last.seq == lastSeq, last.seq > deliveredThrough,
               last.data.readableBytes + data.readableBytes <= Self.coalesceLimit {
                var merged = last.data
                var incoming = data
                merged.writeBuffer(&incoming)
                last = Message(seq: last.seq, direction: .in, at: last.at, data: merged)
                inbound[inbound.index(before: inbound.endIndex)] = last
                unreadInboundBytes += data.readableBytes
                return
            }
            let message = Message(seq: nextSeq, direction: .in, at: date, data: Self.compact(data))
            nextSeq += 1
            inbound.append(message)
            if operatorReads {
                unreadInboundBytes += data.readableBytes
            } else {
                deliveredThrough = message.seq
                readInboundBytes += data.readableBytes
                trimInbound()
            }
        case .out:
            outbound.append(Message(seq: nextSeq, direction: .out, at: date, data: compactAnswer(data)))
            nextSeq += 1
            outboundBytes += data.readableBytes
            while outbound.count > 1, outboundBytes > retention || outbound.count > Self.maxEntriesPerDirection {
                outboundBytes -= outbound.removeFirst().data.readableBytes
            }
        }
    }

    /// Messages after `after`, oldest first, up to about `maxBytes` of data (always at least one
    /// when any is there). Everything up to the last one returned, and up to `after` itself,
    /// counts as read from then on.
    mutating func page(after: UInt64, maxBytes: Int) -> MessagePage {
        var result: [Message] = []
        var bytes = 0
        var i = inbound.firstIndex { $0.seq > after } ?? inbound.endIndex
        var o = outbound.firstIndex { $0.seq > after } ?? outbound.endIndex
        while i != inbound.endIndex || o != outbound.endIndex {
            let takeInbound = o == outbound.endIndex || (i != inbound.endIndex && inbound[i].seq < outbound[o].seq)
            let message = takeInbound ? inbound[i] : outbound[o]
            if !result.isEmpty && bytes + message.data.readableBytes > maxBytes { break }
            result.append(message)
            bytes += message.data.readableBytes
            if takeInbound { i = inbound.index(after: i) } else { o = outbound.index(after: o) }
        }
        let through = max(after, result.last?.seq ?? 0)
        markDelivered(through: min(through, lastSeq))
        let first = [inbound.first?.seq, outbound.first?.seq].compactMap { $0 }.min()
        return MessagePage(messages: result, next: max(after, result.last?.seq ?? after), firstRetained: first)
    }

    private mutating func markDelivered(through seq: UInt64) {
        guard seq > deliveredThrough else { return }
        for message in inbound where message.seq > deliveredThrough && message.seq <= seq {
            unreadInboundBytes -= message.data.readableBytes
            readInboundBytes += message.data.readableBytes
        }
        deliveredThrough = seq
        trimInbound()
    }

    private mutating func trimInbound() {
        while let first = inbound.first, first.seq <= deliveredThrough,
              readInboundBytes > retention || inbound.count > Self.maxEntriesPerDirection {
            readInboundBytes -= inbound.removeFirst().data.readableBytes
        }
    }

    /// An echo sends back the buffer it just read: its compacted copy is the newest inbound
    /// message's already (a byte comparison, then no second copy, allocation and later free).
    private func compactAnswer(_ data: ByteBuffer) -> ByteBuffer {
        guard Self.isLoose(data) else { return data }
        if let last = inbound.last, last.seq == lastSeq, last.data == data { return last.data }
        return Self.compact(data)
    }

    /// A read into a large receive buffer would keep the whole allocation alive for a few bytes.
    private static func compact(_ data: ByteBuffer) -> ByteBuffer {
        guard isLoose(data) else { return data }
        var copy = ByteBufferAllocator().buffer(capacity: data.readableBytes)
        copy.writeImmutableBuffer(data)
        return copy
    }

    private static func isLoose(_ data: ByteBuffer) -> Bool {
        data.capacity > 2 * data.readableBytes + 64
    }
}
