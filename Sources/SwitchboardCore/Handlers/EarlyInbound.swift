import NIOCore

/// Holds what a connection reads before the handler that should get it can take it, and hands
/// it on, in order, when it is removed: an outbound connection's banner (and maybe its FIN,
/// which NIO reads even with reads held back) before its session exists, and what a forwarded
/// client sends before its upstream is connected.
final class EarlyInbound: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private enum Held {
        case read(NIOAny)
        case inputClosed
    }
    private var held: [Held] = []

    /// Where the connect's caller finds the handler again; touched only on the channel's loop.
    final class Holder: @unchecked Sendable {
        var handler: EarlyInbound?
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        held.append(.read(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The FIN must not overtake the bytes before it.
        if case ChannelEvent.inputClosed = event {
            held.append(.inputClosed)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// The bytes held, for a session whose pipeline was taken down before it could get them.
    func takeHeld() -> [ByteBuffer] {
        defer { held = [] }
        return held.compactMap {
            if case .read(let data) = $0 { return unwrapInboundIn(data) }
            return nil
        }
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        let held = self.held
        self.held = []
        var read = false
        for entry in held {
            switch entry {
            case .read(let data):
                context.fireChannelRead(data)
                read = true
            case .inputClosed:
                if read { context.fireChannelReadComplete() }
                read = false
                context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            }
        }
        if read { context.fireChannelReadComplete() }
        context.leavePipeline(removalToken: removalToken)
    }
}
