import NIOCore

/// Counts the `read()` calls that reach the socket end of the pipeline: put in front of the
/// handler whose holding back of reads a test checks.
final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = Any
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}
