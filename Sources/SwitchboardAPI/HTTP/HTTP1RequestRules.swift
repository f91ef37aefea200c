import HTTPTypes
import NIOCore
import NIOHTTP1

/// The HTTP/1 rules that depend on what Hummingbird's conversion to HTTP types drops (the
/// version) or cannot answer (CONNECT), applied between NIO's decoder and that conversion:
///
/// - An HTTP/1.1 request without exactly one `Host` is refused with 400 (RFC 9112 §3.2); an
///   HTTP/1.0 one needs none (load balancers' health checks send none).
/// - `CONNECT` is refused with 405 at once. The service is no proxy; 405 (not 400) because the
///   request is well-formed and `method_not_allowed` is the code the API already gives a method
///   it does not serve, with the methods it does in `Allow`. NIO's encoder frames every answer
///   to CONNECT as a tunnel's (no length, no body) and its decoder reads nothing after the head,
///   so this answer is written as bytes past the encoder, and the connection then ends.
/// - `Expect: 100-continue` is answered `100 Continue` when the endpoint starts reading the
///   body (`RequestHeadMiddleware` sends `SendContinue`): a request refused before that (401,
///   413 from its Content-Length, 404) gets its final status at once, and its body never comes.
/// - A request NIO's parser cannot read (garbage, a header section past the decoder's 80 KiB)
///   is answered in the API's JSON error shape, where Hummingbird would send a bare 400 with no
///   body; only between exchanges, when no request is half read and every one has been answered.
///   Otherwise the error goes on to Hummingbird, which closes after the answer it is writing.
///   (A handler of its own for this cost every request about 1 µs, 4 % of `/healthz`.)
///
/// A refusal waits until every earlier request has been answered in full, so it cannot land in
/// the middle of another answer; nothing the client sends after it is read.
final class HTTP1RequestRules: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What `RequestHeadMiddleware` sends down the pipeline when the body is first read.
    struct SendContinue: Sendable {}

    /// The methods the API serves somewhere, for the `Allow` of the answer to CONNECT; a test
    /// keeps it equal to the router's.
    static let servedMethods = "DELETE, GET, PATCH, POST"

    /// Requests passed on; answers whose final head went out, and answers ended, counted only
    /// while `watching`.
    private var requestsPassed = 0
    private var finalAnswersStarted = 0
    private var answersEnded = 0
    /// The number of the request that asked for `100 Continue` and has sent none of its body.
    private var continueOwedTo: Int?
    private var refusal: APIError?
    private var refusalWritten = false

    /// Every part on the way out is looked at only while a refusal waits, a 100 is owed or a
    /// request came before the one before it was answered (pipelined). The ordinary exchange,
    /// one request answered before the next comes, keeps just the last part written, and looks
    /// at it once, when the next head comes: unwrapping each part of each answer (and the
    /// header arrays of `headers[name]`) cost `/healthz` about 4% of its CPU.
    private var watching = false
    /// Not watching: the request passed last, unless the end of its answer has been written.
    private var lastRequestOpen = false
    private var lastWrite: NIOAny?
    /// A request's head has passed and its end has not.
    private var readingRequest = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard refusal == nil else { return }
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            let fields = Self.fields(of: head)
            if !watching, lastRequestOpen, !lastAnswerEnded() {
                startWatching()
            }
            if let refusal = fields.refusal {
                self.refusal = refusal
                if watching, answersEnded != requestsPassed {
                    return
                }
                write(refusal, context: context)
                return
            }
            requestsPassed += 1
            readingRequest = true
            let owed = Self.isHTTP11(head.version) && fields.expectsContinue
            if owed, !watching { startWatching(passedLast: true) }
            if watching {
                continueOwedTo = owed ? requestsPassed : nil
            } else {
                lastRequestOpen = true
                lastWrite = nil
            }
        case .body:
            // The client did not wait (curl waits a second): no 100 is owed any more.
            continueOwedTo = nil
        case .end:
            continueOwedTo = nil
            readingRequest = false
        }
        context.fireChannelRead(data)
    }

    /// Whether the last part written, since the last request passed, ended its answer.
    private func lastAnswerEnded() -> Bool {
        guard let lastWrite else { return false }
        if case .end = unwrapOutboundIn(lastWrite) { return true }
        return false
    }

    /// From the ordinary exchange to counting every part. `passedLast`: the request just
    /// counted in `requestsPassed` is not the one the last part written belongs to.
    private func startWatching(passedLast: Bool = false) {
        let earlier = passedLast ? requestsPassed - 1 : requestsPassed
        let open = lastRequestOpen && !lastAnswerEnded()
        answersEnded = open ? earlier - 1 : earlier
        // Any part written since that request passed means its answer has begun (an interim
        // head excepted, which only this handler writes, below the parts it sees).
        finalAnswersStarted = open && lastWrite != nil ? answersEnded + 1 : answersEnded
        watching = true
        lastRequestOpen = false
        lastWrite = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard watching else {
            lastWrite = data
            context.write(data, promise: promise)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            finalAnswersStarted += 1
            // Answered without reading the body: the client need not send it.
            if continueOwedTo == finalAnswersStarted { continueOwedTo = nil }
            context.write(data, promise: promise)
        case .head, .body:
            context.write(data, promise: promise)
        case .end:
            answersEnded += 1
            context.write(data, promise: promise)
            if let refusal {
                if !refusalWritten, answersEnded == requestsPassed { write(refusal, context: context) }
            } else if continueOwedTo == nil, answersEnded == requestsPassed {
                // Every answer is out and nothing is owed: the ordinary exchange again.
                watching = false
            }
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is SendContinue else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        // Only for the request being answered, and before its answer has started.
        if let owed = continueOwedTo, owed == finalAnswersStarted + 1 {
            continueOwedTo = nil
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: promise)
        } else {
            promise?.succeed()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Past a refusal the rest of the stream is not read; what the decoder makes of it is moot
        // (after an unreadable request it reports every further byte the client sends as an
        // error, and closing then could reset the connection before the answer is read).
        if refusal != nil { return }
        guard let parserError = error as? HTTPParserError, !readingRequest, everyRequestAnswered() else {
            context.fireErrorCaught(error)
            return
        }
        let refusal = Self.refusal(for: parserError)
        self.refusal = refusal
        write(refusal, context: context)
    }

    /// Whether the end of every passed request's answer has been written.
    private func everyRequestAnswered() -> Bool {
        watching ? answersEnded == requestsPassed : !lastRequestOpen || lastAnswerEnded()
    }

    static func refusal(for error: HTTPParserError) -> APIError {
        switch error {
        case .headerOverflow:
            APIError(.requestHeaderFieldsTooLarge, "headers_too_large", "the request's header section is too large to read (at most 80 KiB and 1000 fields)")
        default:
            APIError(.badRequest, "bad_request", "the request is not HTTP/1.1 this service can read (\(error))")
        }
    }

    /// What the rules make of a head, from one pass over its fields (`headers[name]` builds an
    /// array for each name asked for).
    struct Fields {
        var refusal: APIError?
        var expectsContinue = false
    }

    static func fields(of head: HTTPRequestHead) -> Fields {
        var fields = Fields()
        if head.method == .CONNECT {
            var refusal = APIError(.methodNotAllowed, "method_not_allowed", "CONNECT is not served: this is switchboard's control API, not a proxy; allowed: \(servedMethods)")
            refusal.headers[.allow] = servedMethods
            fields.refusal = refusal
            return fields
        }
        var hosts = 0
        for (name, value) in head.headers {
            if Self.name(name, is: "host") {
                hosts += 1
            } else if Self.name(name, is: "expect"), value.trimmingCharacters(in: .whitespaces).lowercased() == "100-continue" {
                fields.expectsContinue = true
            }
        }
        if isHTTP11(head.version) {
            if hosts == 0 {
                fields.refusal = APIError(.badRequest, "bad_request", "an HTTP/1.1 request needs a Host header (RFC 9112 section 3.2)")
            } else if hosts > 1 {
                fields.refusal = APIError(.badRequest, "bad_request", "the request has \(hosts) Host headers; it needs exactly one (RFC 9112 section 3.2)")
            }
        }
        return fields
    }

    /// A field name compared with a lowercase one, ignoring ASCII case, without a new string.
    private static func name(_ name: String, is lowercase: StaticString) -> Bool {
        guard name.utf8.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            zip(name.utf8, expected).allSatisfy { byte, wanted in
                (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) == wanted
            }
        }
    }

    /// 1.1 or a later 1.x: what RFC 9112 governs.
    private static func isHTTP11(_ version: HTTPVersion) -> Bool { version.major == 1 && version.minor >= 1 }

    /// Writes the whole answer as bytes below NIO's response encoder (which would strip the
    /// body of an answer to CONNECT), then ends the output; the client closes, or the request
    /// timeout does.
    private func write(_ refusal: APIError, context: ChannelHandlerContext) {
        refusalWritten = true
        let body = refusal.body
        var head = "HTTP/1.1 \(refusal.status.code) \(refusal.status.reasonPhrase)\r\n"
        head += "content-type: application/json; charset=utf-8\r\ncontent-length: \(body.count)\r\nconnection: close\r\n"
        for field in refusal.headers { head += "\(field.name.canonicalName): \(field.value)\r\n" }
        head += "\r\n"
        var buffer = context.channel.allocator.buffer(capacity: head.utf8.count + body.count)
        buffer.writeString(head)
        buffer.writeBytes(body)
        guard let below = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) else {
            context.close(promise: nil)
            return
        }
        below.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
    }
}

extension HTTP1RequestRules {
    /// Hummingbird adds the configured handlers after its conversion to HTTP types, where the
    /// version is gone: this one puts the rules right after NIO's decoder, and leaves.
    final class Installer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny

        func handlerAdded(context: ChannelHandlerContext) {
            let pipeline = context.pipeline.syncOperations
            if let decoder = try? pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) {
                try? pipeline.addHandler(HTTP1RequestRules(), position: .after(decoder))
            }
            pipeline.removeHandler(context: context, promise: nil)
        }
    }
}
