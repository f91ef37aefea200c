import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

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
