import NIOCore

/// Holds what an outbound connection reads before its session handler is in place, and hands
/// it on when it is removed.
final class EarlyInbound: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    private var held: [NIOAny] = []

    /// Where the connect's caller finds the handler again; touched only on the channel's loop.
    final class Holder: @unchecked Sendable {
        var handler: EarlyInbound?
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        held.append(data)
    }

    func takeHeld() -> [ByteBuffer] {
        defer { held = [] }
        return held.map { unwrapInboundIn($0) }
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        let held = self.held
        self.held = []
        for data in held { context.fireChannelRead(data) }
        if !held.isEmpty { context.fireChannelReadComplete() }
        context.leavePipeline(removalToken: removalToken)
    }
}
