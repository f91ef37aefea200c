import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Cancels the task answering a request when its client goes away, so a long-poll (or a send,
/// or anything that waits) ends and frees what it holds at once rather than at its deadline.
///
/// Hummingbird 2 does not: its connection task runs the responder inline and looks at the
/// connection again only after the answer. Its `consumeWithCancellationOnInboundClose` is
/// per-route, costs three tasks and a stream a request, and reads the connection's next parts
/// itself, where (as we read its source, 2.28) a pipelined request's head is taken and dropped;
/// hence this, for every request that can wait.
///
/// "Gone" is the connection closing (a reset, a failed write, the request timeout) or the
/// client's FIN. A client that half-closes and waits for its answer cannot be told from one that
/// left without writing to it; like Go's server, the service takes it as gone. An endpoint that
/// ignores cancellation (all but the waiting ones) still answers it.
enum ClientDisconnect {
    /// What the pipeline and the responder share for one connection.
    final class Watch: Sendable {
        private struct State {
            var gone = false
            var cancelRunning: (@Sendable () -> Void)?
        }
        private let state = Mutex(State())

        /// Runs `cancel` when the client goes, at once if it has; until `finished()`.
        /// Hummingbird answers a connection's requests one at a time: one slot is enough.
        func running(cancel: @escaping @Sendable () -> Void) {
            let gone = state.withLock { state in
                state.cancelRunning = cancel
                return state.gone
            }
            if gone { cancel() }
        }

        func finished() { state.withLock { $0.cancelRunning = nil } }

        func clientGone() {
            let cancel = state.withLock { state in
                state.gone = true
                return state.cancelRunning.take()
            }
            cancel?()
        }
    }

    /// The watches of open connections by channel: Hummingbird builds the pipeline and calls the
    /// responder separately, and the channel is all the two have in common.
    private static let watches = Mutex<[ObjectIdentifier: Watch]>([:])

    static func watch(of channel: any Channel) -> Watch? {
        watches.withLock { $0[ObjectIdentifier(channel)] }
    }

    /// Tells the connection's watch when the client goes; first among the API's handlers.
    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        private let watch = Watch()

        func handlerAdded(context: ChannelHandlerContext) {
            let watch = self.watch
            ClientDisconnect.watches.withLock { $0[ObjectIdentifier(context.channel)] = watch }
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            _ = ClientDisconnect.watches.withLock { $0.removeValue(forKey: ObjectIdentifier(context.channel)) }
            watch.clientGone()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { watch.clientGone() }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            watch.clientGone()
            context.fireChannelInactive()
        }
    }

    /// The API's outermost responder: gives each request its limits and its JSON style (here
    /// rather than in a middleware: one async frame less on every request; and before the
    /// router, so that its error answers are laid out as asked too), and runs each request that can wait
    /// in a task of its own that the watch can cancel; the task is awaited and the caller's
    /// cancellation passed on, so it never outlives the request.
    struct Responder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == APIRequestContext {
        typealias Context = APIRequestContext
        let limits: APILimits
        let inner: Inner

        func respond(to request: Request, context: Context) async throws -> Response {
            var context = context
            context.limits = limits
            do {
                context.jsonStyle = try JSONStyle(of: request)
            } catch {
                return error.response(style: .compact)
            }
            // A task per request cost /v1/listeners ~14% of its CPU: only what can wait gets one.
            guard Self.mayWait(request), let watch = ClientDisconnect.watch(of: context.channel) else {
                return try await inner.respond(to: request, context: context)
            }
            let inner = self.inner
            let task = Task { try await inner.respond(to: request, context: context) }
            watch.running { task.cancel() }
            defer { watch.finished() }
            return try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        }

        /// The requests that can take long: a long-poll, a send (it waits for the peer to take
        /// the bytes), opening a session (the connect); the rest answer at once.
        static func mayWait(_ request: Request) -> Bool {
            let path = request.uri.path
            switch request.method {
            case .get: return path.hasSuffix("/messages") && (request.uri.query?.contains("wait=") ?? false)
            case .post: return path.hasSuffix("/send") || path == "/v1/sessions"
            default: return false
            }
        }
    }
}
