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

    func testTheClockStopsWhileAnAnswerIsOwed() throws {
        let (channel, loop) = try channel()
        try request(channel)
        loop.advanceTime(by: .seconds(300))
        XCTAssertTrue(channel.isActive, "a long-poll is the service's time")
        try answer(channel)
        loop.advanceTime(by: timeout)
        XCTAssertFalse(channel.isActive)
    }

    func testAPipelinedRequestKeepsTheClockStoppedUntilItsAnswerToo() throws {
        let (channel, loop) = try channel()
        try request(channel)
        try request(channel)
        try answer(channel)
        loop.advanceTime(by: .seconds(300))
        XCTAssertTrue(channel.isActive, "the second request is still being answered")
        try answer(channel)
        loop.advanceTime(by: timeout)
        XCTAssertFalse(channel.isActive)
    }

    func testAHalfSentRequestIsClosedAtTheTimeout() throws {
        let (channel, loop) = try channel()
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: "a", path: "/v1/listeners")))
        loop.advanceTime(by: timeout)
        XCTAssertFalse(channel.isActive)
    }
}
