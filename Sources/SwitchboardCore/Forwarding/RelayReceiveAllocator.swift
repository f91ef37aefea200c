import NIOCore

/// Receive buffers for relayed channels: they grow with the traffic (to 256 KiB, what makes a
/// bulk transfer fast) and are not kept once handed on, so a pair that went quiet holds no
/// large buffer.
///
/// NIO keeps the buffer it last read into for reuse and grows it in place, so after one burst
/// an idle channel would hold its largest buffer forever. Giving no size hint and always
/// answering "may grow" makes every read take a fresh buffer, sized by the adaptive rule; with
/// one read per wake-up (maxMessagesPerRead 1) NIO's pool then keeps only the first buffer it
/// ever allocated, and never reads into it again. That first one is made small: it is the
/// whole of what an idle channel holds on to (measured: 2 KiB there cost 4 KiB per idle pair).
struct RelayReceiveAllocator: RecvByteBufferAllocator {
    private var adaptive = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 2048, maximum: 256 * 1024)
    private var first = true

    static let firstBufferSize = 128

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        first ? allocator.buffer(capacity: Self.firstBufferSize) : adaptive.buffer(allocator: allocator)
    }

    mutating func record(actualReadBytes: Int) -> Bool {
        // The small first read says nothing about the traffic; the adaptive rule starts after it.
        if first {
            first = false
        } else {
            _ = adaptive.record(actualReadBytes: actualReadBytes)
        }
        return true
    }
}
