import NIOCore
@testable import SwitchboardCore
import XCTest

final class TranscriptTests: XCTestCase {
    private func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    func testPagesInOrderAcrossDirectionsAndCountsWhatIsUnread() {
        var transcript = Transcript(operatorReads: true, retention: 1024)
        transcript.append(.in, bytes("hello"), at: Date())
        transcript.append(.out, bytes("hi"), at: Date())
        transcript.append(.in, bytes("bye"), at: Date())
        XCTAssertEqual(transcript.unreadInboundBytes, 8)

        let page = transcript.page(after: 0, maxBytes: 1 << 20)
        XCTAssertEqual(page.messages.map(\.seq), [1, 2, 3])
        XCTAssertEqual(page.messages.map(\.direction), [.in, .out, .in])
        XCTAssertEqual(page.next, 3)
        XCTAssertEqual(transcript.unreadInboundBytes, 0)

        let empty = transcript.page(after: 3, maxBytes: 1 << 20)
        XCTAssertTrue(empty.messages.isEmpty)
        XCTAssertEqual(empty.next, 3)
    }

    func testMergesUnreadChunksSoOneByteWritesStayFewEntries() {
        var transcript = Transcript(operatorReads: true, retention: 1024)
        for byte in "abcdef" { transcript.append(.in, bytes(String(byte)), at: Date()) }
        let page = transcript.page(after: 0, maxBytes: 1 << 20)
        XCTAssertEqual(page.messages.count, 1)
        XCTAssertEqual(String(buffer: page.messages[0].data), "abcdef")
    }

    func testPageStopsAtTheByteBudgetButAlwaysReturnsOne() {
        var transcript = Transcript(operatorReads: true, retention: 1 << 20)
        transcript.append(.in, bytes(String(repeating: "a", count: 100)), at: Date())
        transcript.append(.out, bytes("x"), at: Date())
        transcript.append(.in, bytes(String(repeating: "b", count: 100)), at: Date())
        let first = transcript.page(after: 0, maxBytes: 50)
        XCTAssertEqual(first.messages.map(\.seq), [1])
        XCTAssertEqual(transcript.unreadInboundBytes, 100)
        let rest = transcript.page(after: first.next, maxBytes: 1000)
        XCTAssertEqual(rest.messages.map(\.seq), [2, 3])
    }

    func testReadDataIsLetGoOldestFirstPastTheRetentionButUnreadNever() {
        var transcript = Transcript(operatorReads: true, retention: 10)
        transcript.append(.in, bytes("0123456789"), at: Date())
        transcript.append(.out, bytes("x"), at: Date())
        transcript.append(.in, bytes("abcdefghij"), at: Date())
        transcript.append(.out, bytes("y"), at: Date())
        transcript.append(.in, bytes("ABCDEFGHIJ"), at: Date())
        // Nothing read yet: all 30 inbound bytes stay.
        XCTAssertEqual(transcript.page(after: 0, maxBytes: 0).messages.first?.seq, 1)
        _ = transcript.page(after: 5, maxBytes: 1 << 20)
        let again = transcript.page(after: 0, maxBytes: 1 << 20)
        XCTAssertEqual(again.firstRetained, 2)
        XCTAssertEqual(again.messages.filter { $0.direction == .in }.map { String(buffer: $0.data) }, ["ABCDEFGHIJ"])
    }

    func testSessionsNobodyReadsKeepOnlyTheirRetention() {
        var transcript = Transcript(operatorReads: false, retention: 8)
        for _ in 0..<100 { transcript.append(.in, bytes("1234"), at: Date()) }
        XCTAssertEqual(transcript.unreadInboundBytes, 0)
        XCTAssertLessThanOrEqual(transcript.retainedBytes, 8)
    }

    func testAnEchoedAnswerSharesItsRequestsCompactCopy() {
        // As NIO reads: a few bytes in a much larger receive buffer, which the transcript copies.
        var read = ByteBufferAllocator().buffer(capacity: 2048)
        read.writeString("ping\n")
        var transcript = Transcript(operatorReads: false, retention: 1024)
        transcript.append(.in, read, at: Date())
        transcript.append(.out, read, at: Date())
        var other = ByteBufferAllocator().buffer(capacity: 2048)
        other.writeString("pong\n")
        transcript.append(.out, other, at: Date())

        let messages = transcript.page(after: 0, maxBytes: 1 << 20).messages
        XCTAssertEqual(messages.map { String(buffer: $0.data) }, ["ping\n", "ping\n", "pong\n"])
        func storage(_ buffer: ByteBuffer) -> UInt? { buffer.withVeryUnsafeBytes { $0.baseAddress.map { UInt(bitPattern: $0) } } }
        XCTAssertLessThan(messages[0].data.capacity, 2048, "the request is kept as a compact copy")
        XCTAssertEqual(storage(messages[1].data), storage(messages[0].data), "the echo shares the request's copy")
        XCTAssertNotEqual(storage(messages[2].data), storage(messages[0].data), "a different answer gets its own")
        XCTAssertLessThan(messages[2].data.capacity, 2048)
    }
}
