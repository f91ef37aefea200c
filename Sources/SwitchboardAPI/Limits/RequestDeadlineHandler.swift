import NIOCore
import NIOHTTPTypes

/// Closes an HTTP connection that has not sent a whole request within the request timeout:
/// one that trickles its head a byte at a time, stalls in its body, or sits idle between
/// requests. Hundreds of those then cost a timer each, not the API.
///
/// It runs after HTTP decoding, so it sees request heads and ends; the clock restarts when the
/// end of an answer has been written (a long-poll or an event stream is the server's time, not
/// the client's).
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    /// When the connection is closed unless a request has come in; nil while one is answered.
    private var expiry: NIODeadline?
    /// At most one timer per connection, moved lazily: each request used to cancel one and
    /// schedule another, which showed in the profile of `/healthz`.
    private var timer: Scheduled<Void>?
    /// Requests fully received and answers fully written. A client may pipeline a request
    /// while an earlier one is answered, and an answer (a 413) may go out before its request
    /// has ended: the clock runs only while every request in has been answered.
    private var requestsIn = 0
    private var answersOut = 0

    init(timeout: Duration) {
        self.timeout = TimeAmount(timeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            requestsIn += 1
            settle(context)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Counted when the answer's end is handed on, not when the socket took it: a promise
        // and a callback per answer were most of this handler's cost. Bytes still unsent when
        // the clock runs out keep the connection (`expired`).
        if case .end = unwrapOutboundIn(data) {
            answersOut += 1
            settle(context)
        }
        context.write(data, promise: promise)
    }

    /// A request in and not yet answered: the answer may take as long as the endpoint needs.
    /// All answered: the client has the timeout to send its next request.
    private func settle(_ context: ChannelHandlerContext) {
        if requestsIn > answersOut {
            expiry = nil
        } else {
            arm(context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        expiry = nil
    }

    /// The loop's clock, not the system's: the same on a running loop, and moved by tests.
    private func arm(_ context: ChannelHandlerContext) {
        let expiry = context.eventLoop.now + timeout
        self.expiry = expiry
        if timer == nil { schedule(context, at: expiry) }
    }

    private func schedule(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            // A request is being answered: the clock starts again when it has been.
            guard let expiry else { return }
            if expiry <= context.eventLoop.now {
                expired(context)
            } else {
                schedule(context, at: expiry)
            }
        }
    }

    /// An answer counts when its end is handed on (a promise per answer cost more than this
    /// handler's other work), so its last bytes may still wait for a slow reader (`curl | less`):
    /// closing then would cut the answer short of its length. While any are unsent the clock
    /// starts again, as it did when answers counted once the socket had taken them all.
    private func expired(_ context: ChannelHandlerContext) {
        let unsent = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        if unsent > 0 {
            let expiry = context.eventLoop.now + timeout
            self.expiry = expiry
            schedule(context, at: expiry)
            return
        }
        context.close(promise: nil)
    }
}
