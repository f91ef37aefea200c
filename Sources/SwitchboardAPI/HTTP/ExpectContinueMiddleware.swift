import Hummingbird
import NIOCore

/// Asks for `100 Continue` (from `HTTP1RequestRules`) when an endpoint first reads the body of
/// a request that carries `Expect: 100-continue`, as Go's server does: a request refused before
/// its body is read gets the refusal at once instead of its client sending the body first
/// (curl waits a second for the 100 before every body over 1 KiB).
struct ExpectContinueMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers[.expect] != nil else { return try await next(request, context) }
        var request = request
        request.body = RequestBody(asyncSequence: ContinueOnFirstRead(base: request.body, channel: context.channel))
        return try await next(request, context)
    }
}

/// A request body that sends `SendContinue` down the connection's pipeline before its first
/// read; the rules handler decides whether a 100 is still owed (HTTP/1.1, no body sent yet).
struct ContinueOnFirstRead: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let channel: any Channel

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        var channel: (any Channel)?

        mutating func next() async throws -> ByteBuffer? {
            if let channel {
                self.channel = nil
                channel.triggerUserOutboundEvent(HTTP1RequestRules.SendContinue(), promise: nil)
            }
            return try await base.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), channel: channel) }
}
