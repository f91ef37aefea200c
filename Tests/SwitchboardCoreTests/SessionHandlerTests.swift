import Foundation
import NIOCore
import NIOEmbedded
@testable import SwitchboardCore
import XCTest

/// The session handler on `EmbeddedChannel`: bytes in, bytes out, and time moved, not waited for.
final class SessionHandlerTests: XCTestCase {
    private final class Ends: @unchecked Sendable {
        var sessions: [Session] = []
    }

    private func connected(_ behaviour: SessionBehaviour) throws -> (EmbeddedChannel, Session, Ends) {
        let channel = EmbeddedChannel()
        let session = Session(id: .make(), role: .server, listener: "l", name: nil, channel: channel, behaviour: behaviour, capture: nil, openedAt: Date())
        let ends = Ends()
        try channel.pipeline.syncOperations.addHandler(SessionHandler(session: session, reporter: DataReporter(observers: [])) { ends.sessions.append($0) })
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
        channel.embeddedEventLoop.advanceTime(by: SessionHandler.finishedPeerGrace - .seconds(1))
        XCTAssertTrue(channel.isActive)
        // The operator answers: the grace starts again from here.
        channel.writeAndFlush(ByteBuffer(string: "HTTP/1.0 200 OK\r\n\r\n"), promise: nil)
        channel.embeddedEventLoop.advanceTime(by: SessionHandler.finishedPeerGrace - .seconds(1))
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
}
