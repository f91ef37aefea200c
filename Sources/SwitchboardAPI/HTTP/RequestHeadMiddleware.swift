import Hummingbird
import NIOCore

/// What is decided on a request's head alone, before its body is read, in one step (each
/// middleware is an async frame on every request; three of them cost `/healthz` ~10 %):
///
/// - a request target or header fields longer than the limits are refused with the API's
///   JSON error;
/// - with `Expect: 100-continue`, `100 Continue` (from `HTTP1RequestRules`) is asked for when
///   an endpoint first reads the body, as Go's server does: a request refused before its body is
///   read gets the refusal at once instead of its client sending the body first (curl waits a
///   second for the 100 before every body over 1 KiB).
struct RequestHeadMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let limits = context.limits
        let target = request.head.path?.utf8.count ?? 0
        guard target <= limits.maxURLBytes else {
            throw APIError(.uriTooLong, "uri_too_long", "the request target is \(target) bytes; at most \(limits.maxURLBytes) are read")
        }
        var headerBytes = 0
        for field in request.headers { headerBytes += field.name.rawName.utf8.count + field.value.utf8.count + 4 }
        guard headerBytes <= limits.maxHeaderBytes else {
            throw APIError(.requestHeaderFieldsTooLarge, "headers_too_large", "the header fields take \(headerBytes) bytes; at most \(limits.maxHeaderBytes) are read")
        }
        guard request.headers[.expect] != nil else { return try await next(request, context) }
        var request = request
        request.body = RequestBody(asyncSequence: ContinueOnFirstRead(base: request.body, channel: context.channel))
        return try await next(request, context)
    }
}

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
