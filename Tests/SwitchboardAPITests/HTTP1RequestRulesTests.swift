import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import SwitchboardAPI
import XCTest

/// `HTTP1RequestRules` on `EmbeddedChannel`: what it lets through, what it refuses and when,
/// through the ordinary exchange (where it looks at no part on the way out) and back.
final class HTTP1RequestRulesTests: XCTestCase {
    private func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        // The refusal is written below NIO's encoder, which must be there to find.
        try channel.pipeline.syncOperations.addHandler(HTTPResponseEncoder())
        try channel.pipeline.syncOperations.addHandler(HTTP1RequestRules())
        return channel
    }

    private func head(_ method: HTTPMethod = .GET, _ fields: [(String, String)] = [("Host", "a")], version: HTTPVersion = .http1_1) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: version, method: method, uri: "/healthz", headers: HTTPHeaders(fields)))
    }

    /// What reached the handlers after the rules.
    private func passed(_ channel: EmbeddedChannel) throws -> [String] {
        var parts: [String] = []
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head): parts.append("head \(head.method)")
            case .body: parts.append("body")
            case .end: parts.append("end")
            }
        }
        return parts
    }

    /// Everything written to the socket, as text.
    private func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { text += buffer.readString(length: buffer.readableBytes) ?? "" }
        return text
    }

    private func answer(_ channel: EmbeddedChannel, _ body: String = "ok") throws {
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "\(body.utf8.count)"])
        try channel.writeOutbound(HTTPServerResponsePart.head(head))
        try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body))))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
    }

    func testOrdinaryExchangesThenARefusalAnsweredAtOnce() throws {
        let channel = try channel()
        for _ in 0..<3 {
            try channel.writeInbound(head())
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
            XCTAssertEqual(try passed(channel), ["head GET", "end"])
            try answer(channel)
            XCTAssertTrue(try written(channel).hasSuffix("\r\n\r\nok"))
        }
        // Every answer is out: the refusal goes at once, and the output ends.
        try channel.writeInbound(head(.GET, []))
        XCTAssertEqual(try passed(channel), [])
        let refusal = try written(channel)
        XCTAssertTrue(refusal.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), refusal)
        XCTAssertTrue(refusal.contains("needs a Host header"), refusal)
        // Nothing after a refusal is read.
        try channel.writeInbound(head())
        XCTAssertEqual(try passed(channel), [])
    }

    func testARefusalBehindAPipelinedRequestWaitsForItsAnswer() throws {
        for written in [0, 1, 2] {
            let channel = try channel()
            try channel.writeInbound(head())
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
            // Part of the first answer may already be out when the refused head comes.
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2"])
            if written > 0 { try channel.writeOutbound(HTTPServerResponsePart.head(head)) }
            if written > 1 { try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "ok")))) }
            try channel.writeInbound(self.head(.CONNECT, [("Host", "example.com:443")]))
            XCTAssertEqual(try passed(channel), ["head GET", "end"])
            XCTAssertFalse(try self.written(channel).contains("405"), "not in the middle of the first answer (\(written) parts out)")
            if written < 1 { try channel.writeOutbound(HTTPServerResponsePart.head(head)) }
            if written < 2 { try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "ok")))) }
            XCTAssertFalse(try self.written(channel).contains("405"))
            try channel.writeOutbound(HTTPServerResponsePart.end(nil))
            let after = try self.written(channel)
            XCTAssertTrue(after.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"), after)
            XCTAssertTrue(after.contains("allow: \(HTTP1RequestRules.servedMethods)\r\n"), after)
        }
    }

    func testContinueOnlyForTheRequestBeingAnsweredAndBeforeItsAnswer() throws {
        let channel = try channel()
        // An ordinary exchange first, so the rules start from not looking at the way out.
        try channel.writeInbound(head())
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try answer(channel)
        _ = try passed(channel)
        _ = try written(channel)

        try channel.writeInbound(head(.POST, [("Host", "a"), ("Expect", " 100-Continue ")]))
        XCTAssertEqual(try passed(channel), ["head POST"])
        try channel.pipeline.triggerUserOutboundEvent(HTTP1RequestRules.SendContinue()).wait()
        XCTAssertEqual(try written(channel), "HTTP/1.1 100 Continue\r\n\r\n")
        // Owed once.
        try channel.pipeline.triggerUserOutboundEvent(HTTP1RequestRules.SendContinue()).wait()
        XCTAssertEqual(try written(channel), "")
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try answer(channel)
        _ = try written(channel)

        // Answered without its body: no 100 after the final head.
        try channel.writeInbound(head(.POST, [("Host", "a"), ("Expect", "100-continue")]))
        let refused = HTTPResponseHead(version: .http1_1, status: .payloadTooLarge, headers: ["Content-Length": "0"])
        try channel.writeOutbound(HTTPServerResponsePart.head(refused))
        try channel.pipeline.triggerUserOutboundEvent(HTTP1RequestRules.SendContinue()).wait()
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        XCTAssertFalse(try written(channel).contains("100 Continue"))

        // Pipelined behind a request not answered yet: a body read now is not its, so no 100;
        // once the earlier answer is out, it is.
        try channel.writeInbound(head())
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try channel.writeInbound(head(.POST, [("Host", "a"), ("Expect", "100-continue")]))
        _ = try passed(channel)
        try channel.pipeline.triggerUserOutboundEvent(HTTP1RequestRules.SendContinue()).wait()
        XCTAssertEqual(try written(channel), "", "the request being answered is the first")
        try answer(channel)
        _ = try written(channel)
        try channel.pipeline.triggerUserOutboundEvent(HTTP1RequestRules.SendContinue()).wait()
        XCTAssertEqual(try written(channel), "HTTP/1.1 100 Continue\r\n\r\n")
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try answer(channel)
        _ = try written(channel)

        // HTTP/1.0 has no 100; and, all answered, the rules are back to the ordinary exchange,
        // where a refusal still goes at once.
        try channel.writeInbound(head(.POST, [("Expect", "100-continue")], version: .http1_0))
        try channel.pipeline.triggerUserOutboundEvent(HTTP1RequestRules.SendContinue()).wait()
        XCTAssertEqual(try written(channel), "")
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try answer(channel)
        _ = try written(channel)
        try channel.writeInbound(head(.GET, [("Host", "a"), ("host", "b")]))
        let twice = try written(channel)
        XCTAssertTrue(twice.hasPrefix("HTTP/1.1 400 "), twice)
        XCTAssertTrue(twice.contains("2 Host headers"), twice)
    }

    func testAnUnreadableRequestBetweenExchangesGetsTheJSONErrorAndNothingMoreIsRead() throws {
        for (error, status) in [(HTTPParserError.invalidHeaderToken, "400 Bad Request"), (.headerOverflow, "431 Request Header Fields Too Large")] {
            let channel = try channel()
            try channel.writeInbound(head())
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
            try answer(channel)
            try unreadable(channel, error)
            XCTAssertNoThrow(try channel.throwIfErrorCaught(), "answered here, not passed on")
            let refusal = try written(channel)
            XCTAssertTrue(refusal.hasPrefix("HTTP/1.1 \(status)\r\n"), refusal)
            XCTAssertTrue(refusal.contains("content-type: application/json"), refusal)
            XCTAssertTrue(refusal.contains("connection: close\r\n"), refusal)
            // What the decoder makes of the rest of the stream is dropped, and nothing passes.
            channel.pipeline.fireErrorCaught(error)
            XCTAssertNoThrow(try channel.throwIfErrorCaught())
            try channel.writeInbound(head())
            XCTAssertEqual(try passed(channel), [])
        }
    }

    func testAnUnreadableRequestDuringAnExchangeGoesOnToHummingbird() throws {
        // Half read (its end not come), or read and not answered in full: no answer of the
        // rules' own, which could land in the middle of another.
        for answered in [false, true] {
            let channel = try channel()
            try channel.writeInbound(head())
            if answered {
                try channel.writeInbound(HTTPServerRequestPart.end(nil))
                try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
            }
            try unreadable(channel)
            try assertPassedOn(channel)
        }
    }

    func testAnUnreadableBodyOfARequestAnsweredEarlyGoesOnToHummingbird() throws {
        // Answered (413 from its Content-Length) before its body came: still half read.
        let channel = try channel()
        try channel.writeInbound(head(.POST, [("Host", "a"), ("Content-Length", "5000000")]))
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .payloadTooLarge, headers: ["Content-Length": "0"])))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        try unreadable(channel, .invalidChunkSize)
        try assertPassedOn(channel)
    }

    func testAnUnreadableRequestBehindAPipelinedOneWaitsForHummingbirdUntilBothAreAnswered() throws {
        let channel = try channel()
        for _ in 0..<2 {
            try channel.writeInbound(head())
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
        }
        try answer(channel)
        try unreadable(channel)
        try assertPassedOn(channel, "nothing between the two answers")
        // Both answered: the ordinary exchange again, where the rules answer in JSON.
        try answer(channel)
        try unreadable(channel)
        XCTAssertNoThrow(try channel.throwIfErrorCaught())
        XCTAssertTrue(try written(channel).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    /// Forgets what passed and was written so far, then reports `error` as NIO's decoder would.
    private func unreadable(_ channel: EmbeddedChannel, _ error: HTTPParserError = .invalidHeaderToken) throws {
        _ = try passed(channel)
        _ = try written(channel)
        channel.pipeline.fireErrorCaught(error)
    }

    /// The error went on to Hummingbird, and the rules wrote nothing of their own.
    private func assertPassedOn(_ channel: EmbeddedChannel, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertThrowsError(try channel.throwIfErrorCaught(), message, file: file, line: line)
        XCTAssertEqual(try written(channel), "", message, file: file, line: line)
    }
}
