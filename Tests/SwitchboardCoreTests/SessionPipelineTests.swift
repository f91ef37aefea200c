#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import NIOEmbedded
@testable import SwitchboardCore
import XCTest

/// Each session pipeline on `EmbeddedChannel`: bytes in, bytes out, and time moved, not waited for.
final class SessionPipelineTests: XCTestCase {
    private final class Ends: @unchecked Sendable {
        var sessions: [Session] = []
    }

    private func connected(_ behaviour: SessionBehaviour) throws -> (EmbeddedChannel, Session, Ends) {
        let channel = EmbeddedChannel()
        let session = Session(id: .make(), role: .server, listener: "l", name: nil, channel: channel, behaviour: behaviour, capture: nil, openedAt: Date())
        let ends = Ends()
        try SessionPipeline.install(on: channel, session: session, options: .init(), reporter: DataReporter(observers: [])) { ends.sessions.append($0) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return (channel, session, ends)
    }

    func testEchoWritesBackWhatArrivesAndCountsIt() throws {
        let (channel, session, ends) = try connected(.echo)
        try channel.writeInbound(ByteBuffer(string: "hi"))
        XCTAssertEqual(try channel.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "hi"))
        XCTAssertEqual(session.info.bytesIn, 2)
        XCTAssertEqual(session.info.bytesOut, 2)
        channel.pipeline.fireChannelInactive()
        XCTAssertEqual(ends.sessions.count, 1)
        XCTAssertEqual(session.info.closeReason, .peer)
        _ = try? channel.finish()
    }

    func testAHoldSessionWhoseClientFinishedSendingClosesAfterTheGraceUnlessTheOperatorAnswers() throws {
        let (channel, session, ends) = try connected(.hold)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.0\r\n\r\n"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertTrue(channel.isActive, "a client's FIN does not end a hold session")
        channel.embeddedEventLoop.advanceTime(by: HoldHandler.finishedPeerGrace - .seconds(1))
        XCTAssertTrue(channel.isActive)
        // The operator answers: the grace starts again from here.
        channel.writeAndFlush(ByteBuffer(string: "HTTP/1.0 200 OK\r\n\r\n"), promise: nil)
        channel.embeddedEventLoop.advanceTime(by: HoldHandler.finishedPeerGrace - .seconds(1))
        XCTAssertTrue(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        XCTAssertFalse(channel.isActive, "closed once the operator was quiet for the whole grace")
        XCTAssertEqual(ends.sessions.count, 1)
        XCTAssertEqual(session.info.closeReason, .peer, "the client ended first")
        _ = try? channel.finish()
    }

    func testAHoldSessionWhoseClientKeepsItsSideOpenStaysOpen() throws {
        let (channel, _, ends) = try connected(.hold)
        try channel.writeInbound(ByteBuffer(string: "hello"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(3600))
        XCTAssertTrue(channel.isActive)
        XCTAssertTrue(ends.sessions.isEmpty)
        _ = try? channel.finish()
    }

    func testTheRecorderCountsCapturesAndHoldsBackReadsWhileTheOperatorHasTooMuchUnread() throws {
        let channel = EmbeddedChannel()
        let captured = Ends()
        let chunks = CapturedChunks()
        let session = Session(
            id: .make(), role: .server, listener: "l", name: nil, channel: channel, behaviour: .hold,
            capture: CaptureSettings(limit: 4) { chunks.append($0) }, openedAt: Date()
        )
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try SessionPipeline.install(on: channel, session: session, options: .init(), reporter: DataReporter(observers: [])) { captured.sessions.append($0) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try channel.writeInbound(ByteBuffer(string: "abcdef"))
        XCTAssertEqual(session.info.bytesIn, 6)
        XCTAssertEqual(chunks.all.map { String(buffer: $0.data) }, ["abcd"], "capture stops at its limit")
        XCTAssertTrue(session.info.captureTruncated)
        // Past the unread limit the recorder stops asking the socket for more.
        try channel.writeInbound(ByteBuffer(repeating: 0x61, count: Session.unreadLimit))
        let before = counter.reads
        channel.read()
        XCTAssertEqual(counter.reads, before, "held back while the operator has not read")
        // What Session fires once the operator has read the transcript below the limit.
        channel.pipeline.fireUserInboundEventTriggered(SessionRecorder.ResumeReading())
        XCTAssertEqual(counter.reads, before + 1, "the held-back read goes out once the operator read")
        channel.pipeline.fireErrorCaught(IOError(errnoCode: ECONNRESET, reason: "read"))
        XCTAssertEqual(session.info.closeReason, .reset)
        XCTAssertEqual(captured.sessions.count, 1)
        _ = try? channel.finish()
    }

    func testReplyAnswersEachChunkAndWithCloseAfterReplyClosesOnceAnswered() throws {
        let (channel, session, _) = try connected(.reply(ByteBuffer(string: "ok"), closeAfterReply: false))
        try channel.writeInbound(ByteBuffer(string: "one"))
        try channel.writeInbound(ByteBuffer(string: "two"))
        XCTAssertEqual(try channel.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "ok"))
        XCTAssertEqual(try channel.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "ok"))
        XCTAssertEqual(session.info.bytesOut, 4)
        _ = try? channel.finish()

        let (once, closing, ends) = try connected(.reply(ByteBuffer(string: "bye"), closeAfterReply: true))
        try once.writeInbound(ByteBuffer(string: "hi"))
        try once.writeInbound(ByteBuffer(string: "again"))
        XCTAssertEqual(try once.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "bye"))
        XCTAssertNil(try once.readOutbound(as: ByteBuffer.self), "one answer only")
        once.embeddedEventLoop.run()
        XCTAssertFalse(once.isActive)
        XCTAssertEqual(closing.info.closeReason, .local)
        XCTAssertEqual(ends.sessions.count, 1)
    }

    func testEchoStopsReadingWhileThePeerDoesNotTakeTheEcho() throws {
        let channel = EmbeddedChannel()
        let session = Session(id: .make(), role: .server, listener: "l", name: nil, channel: channel, behaviour: .echo, capture: nil, openedAt: Date())
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try SessionPipeline.install(on: channel, session: session, options: .init(), reporter: DataReporter(observers: [])) { _ in }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        let before = counter.reads
        channel.read()
        XCTAssertEqual(counter.reads, before, "no read while the echo cannot be written")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        XCTAssertEqual(counter.reads, before + 1)
        _ = try? channel.finish()
    }

    func testTwoForwardedHalvesPassBytesAndAFINAndCountThem() throws {
        let loop = EmbeddedEventLoop()
        let client = EmbeddedChannel(loop: loop)
        let upstream = EmbeddedChannel(loop: loop)
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try upstream.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 10)).wait()
        let a = Session(id: .make(), role: .server, listener: "f", name: nil, channel: client, behaviour: .forward, capture: nil, openedAt: Date())
        let b = Session(id: .make(), role: .client, listener: "f", name: nil, channel: upstream, behaviour: .forward, capture: nil, openedAt: Date())
        let reporter = DataReporter(observers: [])
        let left = try SessionPipeline.installRelay(on: client, session: a, options: .init(), reporter: reporter) { _ in }
        let right = try SessionPipeline.installRelay(on: upstream, session: b, options: .init(), reporter: reporter) { _ in }
        // Bytes the client sent before the upstream was there wait, then go first.
        try client.writeInbound(ByteBuffer(string: "early "))
        RelayHandler.join(left, right)
        try client.writeInbound(ByteBuffer(string: "late"))
        client.pipeline.fireChannelReadComplete()
        XCTAssertEqual(try upstream.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "early "))
        XCTAssertEqual(try upstream.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "late"))
        try upstream.writeInbound(ByteBuffer(string: "answer"))
        upstream.pipeline.fireChannelReadComplete()
        XCTAssertEqual(try client.readOutbound(as: ByteBuffer.self), ByteBuffer(string: "answer"))
        XCTAssertEqual(a.info.bytesIn, 10)
        XCTAssertEqual(b.info.bytesOut, 10)
        XCTAssertEqual(a.partnerID, b.id)
        _ = try? client.finish()
        _ = try? upstream.finish()
    }

    /// Notes what reaches it, in order.
    private final class Arrivals: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var seen: [String] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { seen.append(String(buffer: unwrapInboundIn(data))) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { seen.append("FIN") }
        }
    }

    func testTheEarlyBufferHandsOnWhatArrivedBeforeTheSessionWhenRemovedFINLast() throws {
        let channel = EmbeddedChannel()
        let early = EarlyInbound()
        let arrivals = Arrivals()
        try channel.pipeline.syncOperations.addHandlers([early, arrivals])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try channel.writeInbound(ByteBuffer(string: "banner"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertEqual(arrivals.seen, [], "held, not passed on")
        channel.pipeline.syncOperations.removeHandler(early, promise: nil)
        channel.embeddedEventLoop.run()
        XCTAssertEqual(arrivals.seen, ["banner", "FIN"], "the bytes, then the FIN that came after them")
        _ = try? channel.finish()
    }
}

private final class CapturedChunks: @unchecked Sendable {
    private(set) var all: [CapturedChunk] = []
    func append(_ chunk: CapturedChunk) { all.append(chunk) }
}
