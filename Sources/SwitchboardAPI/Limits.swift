import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// The limits one request is held to. Each has a `serve` flag; the defaults suit an operator's
/// curl and scripts with room to spare.
public struct APILimits: Sendable {
    /// Request bodies (JSON or raw bytes to send).
    public var maxBodyBytes = 1 << 20
    /// All header fields together, names and values.
    public var maxHeaderBytes = 16 * 1024
    /// The request target: path and query.
    public var maxURLBytes = 8 * 1024
    /// Nesting of a JSON body.
    public var maxJSONDepth = 16
    /// How long a client has to send a whole request, from the connection's start or the end
    /// of the previous answer; also how long an idle keep-alive connection is kept.
    public var requestTimeout = Duration.seconds(10)

    public init() {}
}

/// Puts the service's limits on each request's context, where the body reader, the JSON
/// check and the error middleware find them.
struct LimitsMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let limits: APILimits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.limits = limits
        return try await next(request, context)
    }
}

/// Refuses a request whose target or header fields are longer than the limits, with the
/// API's JSON error.
struct RequestHeadSizeMiddleware: RouterMiddleware {
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
        return try await next(request, context)
    }
}

/// Closes an HTTP connection that has not sent a whole request within the request timeout:
/// one that trickles its head a byte at a time, stalls in its body, or sits idle between
/// requests. Hundreds of those then cost a timer each, not the API.
///
/// It runs after HTTP decoding, so it sees request heads and ends; the clock restarts when an
/// answer has been written in full (a long-poll or an event stream is the server's time, not
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
        if case .end = unwrapOutboundIn(data) {
            let promise = promise ?? context.eventLoop.makePromise()
            promise.futureResult.assumeIsolated().whenSuccess { [self] in
                answersOut += 1
                settle(context)
            }
            context.write(data, promise: promise)
        } else {
            context.write(data, promise: promise)
        }
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

    private func arm(_ context: ChannelHandlerContext) {
        let expiry = NIODeadline.now() + timeout
        self.expiry = expiry
        if timer == nil { schedule(context, at: expiry) }
    }

    private func schedule(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            // A request is being answered: the clock starts again when it has been.
            guard let expiry else { return }
            if expiry <= .now() {
                context.close(promise: nil)
            } else {
                schedule(context, at: expiry)
            }
        }
    }
}

/// Answers a request NIO's HTTP parser cannot read (garbage, a header section past the
/// decoder's 80 KiB) in the API's JSON error shape, where Hummingbird would send a bare 400
/// with no body; the stream cannot be read past the error, so the service then stops writing
/// and lets the client close (or the request timeout end it).
///
/// Only between exchanges: when every request that started has ended and has been answered in
/// full. Otherwise an answer is being written (a stream, a large page) or is owed (a 413 sent
/// before its body ended), and the error goes on to Hummingbird, which closes after that answer.
final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var requestsStarted = 0
    private var requestsEnded = 0
    private var answersEnded = 0
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head: requestsStarted += 1
        case .end: requestsEnded += 1
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { answersEnded += 1 }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After the answer the decoder reports every further byte as an error: the client is
        // still sending what was refused. Closing now would reset the connection and could
        // lose the answer, so those are dropped until the client closes.
        if answered { return }
        guard let parserError = error as? HTTPParserError,
              requestsStarted == requestsEnded, requestsEnded == answersEnded else {
            context.fireErrorCaught(error)
            return
        }
        answered = true
        let refusal = Self.refusal(for: parserError)
        let body = refusal.body
        let head = HTTPResponse(status: refusal.status, headerFields: [
            .contentType: "application/json; charset=utf-8", .contentLength: "\(body.count)", .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
    }

    static func refusal(for error: HTTPParserError) -> APIError {
        switch error {
        case .headerOverflow:
            APIError(.requestHeaderFieldsTooLarge, "headers_too_large", "the request's header section is too large to read (at most 80 KiB and 1000 fields)")
        default:
            APIError(.badRequest, "bad_request", "the request is not HTTP/1.1 this service can read (\(error))")
        }
    }
}

