import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
@testable import SwitchboardAPI
import XCTest

/// `RequestDeadlineHandler` on `EmbeddedChannel`, with time moved: when the clock runs (the
/// client owes a request) and when it does not (the service owes an answer).
final class RequestDeadlineHandlerTests: XCTestCase {
    private let timeout = TimeAmount.seconds(30)

    private func channel() throws -> (EmbeddedChannel, EmbeddedEventLoop) {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(RequestDeadlineHandler(timeout: .seconds(30)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, loop)
    }

    private func request(_ channel: EmbeddedChannel) throws {
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .get, scheme: nil, authority: "a", path: "/healthz")))
        try channel.writeInbound(HTTPRequestPart.end(nil))
    }

    private func answer(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
    }

    func testAnIdleConnectionIsClosedAtTheTimeoutAndNotBefore() throws {
        let (channel, loop) = try channel()
        loop.advanceTime(by: timeout - .milliseconds(1))
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .milliseconds(1))
        XCTAssertFalse(channel.isActive)
    }

    func testEachAnsweredRequestGivesTheClientTheWholeTimeoutAgain() throws {
        let (channel, loop) = try channel()
        for _ in 0..<3 {
            loop.advanceTime(by: .seconds(20))
            try request(channel)
            try answer(channel)
        }
        // 60 s in all, never 30 without a request.
        loop.advanceTime(by: .seconds(29))
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .seconds(1))
        XCTAssertFalse(channel.isActive)
    }

    /// Alone, or pipelined behind one that is answered first: the clock waits for the last answer.
    func testTheClockStopsWhileAnAnswerIsOwed() throws {
        for pipelined in [false, true] {
            let (channel, loop) = try channel()
            try request(channel)
            if pipelined {
                try request(channel)
                try answer(channel)
            }
            loop.advanceTime(by: .seconds(300))
            XCTAssertTrue(channel.isActive, "a long-poll is the service's time (pipelined: \(pipelined))")
            try answer(channel)
            loop.advanceTime(by: timeout)
            XCTAssertFalse(channel.isActive)
        }
    }

    func testAHalfSentRequestIsClosedAtTheTimeout() throws {
        let (channel, loop) = try channel()
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: "a", path: "/v1/listeners")))
        loop.advanceTime(by: timeout)
        XCTAssertFalse(channel.isActive)
    }

    /// An answer whose end has been handed on but whose bytes the socket has not all taken (a
    /// slow reader of a large answer): the timeout must not cut its tail; once it is out, the
    /// client's own timeout runs. EmbeddedChannel counts unflushed writes as the bytes still to
    /// go, in ByteBuffers only, hence the stand-in for NIO's encoder.
    func testAnAnswerStillGoingOutIsNotCutByTheTimeout() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(AsBytes())
        try channel.pipeline.syncOperations.addHandler(RequestDeadlineHandler(timeout: .seconds(30)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try request(channel)
        channel.write(HTTPResponsePart.head(HTTPResponse(status: .ok)), promise: nil)
        channel.write(HTTPResponsePart.body(ByteBuffer(repeating: 0x61, count: 1 << 20)), promise: nil)
        channel.write(HTTPResponsePart.end(nil), promise: nil)
        for _ in 0..<3 {
            loop.advanceTime(by: timeout)
            XCTAssertTrue(channel.isActive, "closed with the answer not yet out: its tail would be lost")
        }
        channel.flush()
        loop.advanceTime(by: timeout - .milliseconds(1))
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .milliseconds(1))
        XCTAssertFalse(channel.isActive, "all taken, then idle for the timeout")
    }
}

/// Writes each part as bytes, as NIO's HTTP encoder would, so that unflushed parts count in
/// the channel's buffered bytes.
private final class AsBytes: ChannelOutboundHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = ByteBuffer

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head: context.write(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n")), promise: promise)
        case .body(let bytes): context.write(wrapOutboundOut(bytes), promise: promise)
        case .end: context.write(wrapOutboundOut(ByteBuffer()), promise: promise)
        }
    }
}
