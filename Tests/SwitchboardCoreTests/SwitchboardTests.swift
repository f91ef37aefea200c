import Logging
import NIOCore
import NIOPosix
@testable import SwitchboardCore
import SwitchboardTestSupport
import XCTest

final class SwitchboardTests: XCTestCase {
    private var switchboard: Switchboard!

    override func setUp() async throws {
        var logger = Logger(label: "core-test")
        logger.logLevel = .warning
        switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    override func tearDown() async throws {
        await switchboard.shutdown()
    }

    private func listen(_ mode: ListenerMode, name: String = "l", maxSessions: Int? = nil) async throws -> Int {
        let info = try await switchboard.createListener(ListenerSpec(name: name, address: .host("127.0.0.1", port: 0), mode: mode, maxSessions: maxSessions))
        return Int(info.address.split(separator: ":").last!)!
    }

    private func onlySession(_ filter: SessionFilter = .init()) async throws -> SessionInfo {
        try await eventually("one session") { switchboard.sessions(filter).count == 1 }
        return switchboard.sessions(filter)[0]
    }

    func testEchoWritesBackEveryByteAndCountsThem() async throws {
        let port = try await listen(.echo)
        let peer = try await TestConnection.connect(port: port)
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await peer.send(payload)
        let echoed = try await peer.read(atLeast: payload.count)
        XCTAssertEqual(echoed, payload)
        await peer.close()
        try await eventually("the session to close") { switchboard.sessions(.init(state: .closed)).count == 1 }
        let session = switchboard.sessions()[0]
        XCTAssertEqual(session.bytesIn, 100_000)
        XCTAssertEqual(session.bytesOut, 100_000)
        XCTAssertEqual(session.role, .server)
        XCTAssertEqual(session.listener, "l")
        XCTAssertEqual(session.closeReason, .peer)
        let listener = try switchboard.listener(named: "l")
        XCTAssertEqual(listener.totalSessions, 1)
        XCTAssertEqual(listener.bytesIn, 100_000)
    }

    func testAClosedSessionStaysQueryableButLetsGoOfItsChannel() async throws {
        let port = try await listen(.echo)
        let peer = try await TestConnection.connect(port: port)
        try await peer.send("hello")
        _ = try await peer.read(atLeast: 5)
        let id = try await onlySession().id
        weak let channel = try XCTUnwrap(switchboard.channel(ofSession: id)) as AnyObject
        XCTAssertNotNil(channel)
        await peer.close()
        try await eventually("the session to close") { switchboard.sessions(.init(state: .closed)).count == 1 }
        XCTAssertNil(switchboard.channel(ofSession: id))
        // Once NIO is done with it, nothing keeps the channel alive: not the closed session.
        try await eventually("the channel to be freed") { channel == nil }
        XCTAssertEqual(try switchboard.session(id).bytesIn, 5)
        let messages = try await switchboard.messages(id, after: 0, wait: .zero)
        XCTAssertEqual(messages.messages.count, 2, "the transcript outlives the channel")
    }

    func testReplyAnswersEachChunkAndCanCloseAfterTheFirst() async throws {
        let port = try await listen(.reply(ByteBuffer(string: "Hello from server!"), closeAfterReply: true))
        let peer = try await TestConnection.connect(port: port)
        try await peer.send("Hello, Server!")
        try await peer.waitForClose()
        XCTAssertEqual(peer.receivedText, "Hello from server!")
        try await eventually("closed") { switchboard.sessions(.init(state: .closed)).count == 1 }
        XCTAssertEqual(switchboard.sessions()[0].closeReason, .local)
    }

    func testHoldLetsTheOperatorReadAndWrite() async throws {
        let port = try await listen(.hold)
        let peer = try await TestConnection.connect(port: port)
        let session = try await onlySession()
        try await peer.send("ping")
        let page = try await switchboard.messages(session.id, after: 0, wait: .seconds(5))
        XCTAssertEqual(page.messages.map { String(buffer: $0.data) }, ["ping"])
        try await switchboard.send(session.id, ByteBuffer(string: "pong"))
        let pong = try await peer.read(atLeast: 4)
        XCTAssertEqual(String(decoding: pong, as: UTF8.self), "pong")
        let closed = try await switchboard.closeSession(session.id, reset: false)
        XCTAssertEqual(closed.state, .closed)
        XCTAssertEqual(closed.closeReason, .local)
        try await peer.waitForClose()
        do {
            try await switchboard.send(session.id, ByteBuffer(string: "late"))
            XCTFail("sending on a closed session must fail")
        } catch {
            XCTAssertEqual(error.kind, .sessionClosed)
        }
    }

    func testLongPollReturnsAsSoonAsDataArrives() async throws {
        let port = try await listen(.hold)
        let peer = try await TestConnection.connect(port: port)
        let session = try await onlySession()
        let switchboard = self.switchboard!
        async let page = switchboard.messages(session.id, after: 0, wait: .seconds(30))
        try await Task.sleep(for: .milliseconds(50))
        try await peer.send("late")
        let started = ContinuousClock.now
        let result = try await page
        XCTAssertEqual(result.messages.count, 1)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10), "a long-poll must not wait out its time once data came")
    }

    func testLongPollEndsWhenTheTimeIsUp() async throws {
        let port = try await listen(.hold)
        _ = try await TestConnection.connect(port: port)
        let session = try await onlySession()
        let page = try await switchboard.messages(session.id, after: 0, wait: .milliseconds(100))
        XCTAssertTrue(page.messages.isEmpty)
    }

    func testAPeerResetIsRecordedAsReset() async throws {
        let port = try await listen(.hold)
        let peer = try await TestConnection.connect(port: port)
        _ = try await onlySession()
        await peer.reset()
        try await eventually("the session to close") { switchboard.sessions(.init(state: .closed)).count == 1 }
        XCTAssertEqual(switchboard.sessions()[0].closeReason, .reset)
    }

    func testAnOperatorResetSendsAnRST() async throws {
        let port = try await listen(.hold)
        let peer = try await TestConnection.connect(port: port)
        let session = try await onlySession()
        _ = try await switchboard.closeSession(session.id, reset: true)
        try await peer.waitForClose()
        XCTAssertEqual((peer.closeError as? IOError)?.errnoCode, ECONNRESET, "an RST, not a FIN: \(String(describing: peer.closeError))")
    }

    func testAnOperatorCloseSendsAFIN() async throws {
        let port = try await listen(.hold)
        let peer = try await TestConnection.connect(port: port)
        let session = try await onlySession()
        _ = try await switchboard.closeSession(session.id, reset: false)
        try await peer.waitForClose()
        XCTAssertNil(peer.closeError)
    }

    func testMaxSessionsClosesAndCountsTheRest() async throws {
        let port = try await listen(.hold, maxSessions: 1)
        let first = try await TestConnection.connect(port: port)
        _ = try await onlySession()
        let second = try await TestConnection.connect(port: port)
        try await second.waitForClose()
        XCTAssertFalse(first.isClosed)
        let listener = try switchboard.listener(named: "l")
        XCTAssertEqual(listener.rejectedSessions, 1)
        XCTAssertEqual(listener.openSessions, 1)
    }

    func testListenerNamesAndAddressesAreUnique() async throws {
        let port = try await listen(.echo, name: "one")
        do {
            _ = try await listen(.echo, name: "one")
            XCTFail("a second listener of the same name must be refused")
        } catch let error as SwitchboardError {
            XCTAssertEqual(error.kind, .nameTaken)
        }
        do {
            _ = try await switchboard.createListener(ListenerSpec(name: "two", address: .host("127.0.0.1", port: port), mode: .echo))
            XCTFail("a bound address must be refused")
        } catch {
            XCTAssertEqual(error.kind, .addressInUse)
        }
        do {
            _ = try await switchboard.createListener(ListenerSpec(name: ".hidden", address: .host("127.0.0.1", port: 0), mode: .echo))
            XCTFail("a name starting with a dot must be refused")
        } catch {
            XCTAssertEqual(error.kind, .invalidArgument)
        }
    }

    func testDeletingAListenerCanLeaveOrCloseItsSessions() async throws {
        let port = try await listen(.hold, name: "keep")
        let kept = try await TestConnection.connect(port: port)
        _ = try await onlySession(.init(listener: "keep"))
        let deleted = try await switchboard.deleteListener(named: "keep", closeSessions: false)
        XCTAssertEqual(deleted.openSessions, 1)
        XCTAssertFalse(kept.isClosed)
        do {
            _ = try await TestConnection.connect(port: port)
            XCTFail("a deleted listener must stop accepting")
        } catch {}

        let port2 = try await listen(.hold, name: "drop")
        let dropped = try await TestConnection.connect(port: port2)
        _ = try await onlySession(.init(listener: "drop"))
        _ = try await switchboard.deleteListener(named: "drop", closeSessions: true)
        try await dropped.waitForClose()
        XCTAssertThrowsError(try switchboard.listener(named: "drop"))
    }

    func testUnixSocketListenerAndSession() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("echo.sock").path
        let info = try await switchboard.createListener(ListenerSpec(name: "u", address: .unix(path: path), mode: .echo))
        XCTAssertEqual(info.address, "unix:\(path)")
        let session = try await switchboard.connect(ConnectSpec(endpoint: .unix(path: path), send: ByteBuffer(string: "over unix")))
        let page = try await switchboard.messages(session.id, after: 1, wait: .seconds(5))
        XCTAssertEqual(page.messages.map { String(buffer: $0.data) }, ["over unix"])
        _ = try await switchboard.deleteListener(named: "u", closeSessions: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "the socket file goes with the listener")
    }

    func testConnectRefusedAndTimedOut() async throws {
        // A port that was just free: nothing listens there.
        let port = try await listen(.echo, name: "gone")
        _ = try await switchboard.deleteListener(named: "gone", closeSessions: true)
        do {
            _ = try await switchboard.connect(ConnectSpec(endpoint: .host("127.0.0.1", port: port)))
            XCTFail("connecting to a closed port must fail")
        } catch {
            XCTAssertEqual(error.kind, .connectRefused)
        }

        // A listener whose accept queue is full drops further SYNs, so the connect cannot finish.
        let full = try ServerSocketWithFullBacklog()
        defer { full.close() }
        do {
            _ = try await switchboard.connect(ConnectSpec(endpoint: .host("127.0.0.1", port: full.port), connectTimeout: .milliseconds(200)))
            XCTFail("connecting to a full backlog must time out")
        } catch {
            XCTAssertEqual(error.kind, .connectTimeout)
        }
    }

    func testAnOpenSessionNameIsTakenUntilItCloses() async throws {
        let port = try await listen(.hold)
        let first = try await switchboard.connect(ConnectSpec(endpoint: .host("127.0.0.1", port: port), name: "plc-1"))
        do {
            _ = try await switchboard.connect(ConnectSpec(endpoint: .host("127.0.0.1", port: port), name: "plc-1"))
            XCTFail("a name in use must be refused")
        } catch {
            XCTAssertEqual(error.kind, .nameTaken)
        }
        _ = try await switchboard.closeSession(first.id, reset: false)
        let second = try await switchboard.connect(ConnectSpec(endpoint: .host("127.0.0.1", port: port), name: "plc-1"))
        XCTAssertEqual(switchboard.sessions(.init(name: "plc-1")).map(\.id).sorted(), [first.id, second.id].sorted())
    }

    /// A hold session nobody reads stops taking data at its limit, keeps what it took, and
    /// gives all of it to the operator in order once read.
    func testBackpressureKeepsMemoryBoundedAndLosesNothing() async throws {
        let port = try await listen(.hold)
        let peer = try await TestConnection.connect(port: port)
        let session = try await onlySession()
        let total = 10 << 20
        let payload = (0..<total).map { UInt8(truncatingIfNeeded: $0 % 251) }
        // The write completes only when the kernel took all of it; it cannot while we do not read.
        let writer = Task { try await peer.send(payload) }

        try await eventually("the session to stop reading") {
            switchboard.sessions()[0].bytesIn >= UInt64(Session.unreadLimit)
        }
        // Give the peer time to push more if the session were still reading: unchecked, the
        // 10 MiB would pour in within this time. What is read after the limit is only what NIO's
        // read loop already had in hand (at most maxMessagesPerRead reads of up to 64 KiB).
        try await Task.sleep(for: .milliseconds(200))
        let held = switchboard.sessions()[0].bytesIn
        XCTAssertLessThan(held, UInt64(Session.unreadLimit + (256 << 10)), "reading stops near the limit")

        var received: [UInt8] = []
        received.reserveCapacity(total)
        var after: UInt64 = 0
        while received.count < total {
            let page = try await switchboard.messages(session.id, after: after, wait: .seconds(10))
            XCTAssertFalse(page.messages.isEmpty, "data stalled at \(received.count) bytes")
            for message in page.messages where message.direction == .in {
                received.append(contentsOf: message.data.readableBytesView)
            }
            after = page.next
        }
        try await writer.value
        XCTAssertEqual(received.count, total)
        XCTAssertTrue(received == payload, "bytes arrive complete and in order")
    }
}

/// A listening socket with a backlog of one already used, so the next SYN goes unanswered.
final class ServerSocketWithFullBacklog {
    let fd: Int32
    let port: Int
    private var fillers: [Int32] = []

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        listen(fd, 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        var fillers: [Int32] = []
        // Fill the queue: with backlog 0 Linux keeps one or two completed connections.
        for _ in 0..<3 {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            fillers.append(client)
        }
        self.fillers = fillers
    }

    func close() {
        for filler in fillers { Glibc.close(filler) }
        Glibc.close(fd)
    }
}

extension SwitchboardTests {
    /// A peer that resets while the service is still writing to it: the write fails, the
    /// session ends as `reset`, and the service carries on.
    func testAPeerThatResetsMidWriteEndsTheSessionAsReset() async throws {
        let port = try await listen(.hold, name: "mid")
        let peer = try await TestConnection.connect(port: port, receiveBuffer: 4096)
        try await peer.stopReading()
        let session = try await onlySession()
        // More than the socket buffers hold: the send is still in progress when the peer resets.
        let sending = Task { [switchboard] in
            _ = try await switchboard!.send(session.id, ByteBuffer(repeating: 0x61, count: 32 << 20))
        }
        // Counted as the socket takes it: some of it, never all, while the peer does not read.
        try await eventually("the write to be under way") { try switchboard.session(session.id).bytesOut > 0 }
        XCTAssertLessThan(try switchboard.session(session.id).bytesOut, 32 << 20)
        await peer.reset()
        do {
            try await sending.value
            XCTFail("a write to a reset peer cannot complete")
        } catch let error as SwitchboardError {
            XCTAssertEqual(error.kind, .sessionClosed)
        }
        try await eventually("closed") { try switchboard.session(session.id).state == .closed }
        XCTAssertEqual(try switchboard.session(session.id).closeReason, .reset)
        // The listener still serves.
        let next = try await TestConnection.connect(port: port)
        try await eventually("a second session") { switchboard.sessions(.init(state: .open)).count == 1 }
        await next.close()
    }
}

extension SwitchboardTests {
    /// An echo peer that sends and never reads: the echo backs up, the service stops reading
    /// from it instead of buffering, and the peer is served again once it reads.
    func testAnEchoPeerThatNeverReadsIsHeldBackNotBuffered() async throws {
        let port = try await listen(.echo, name: "flood")
        let peer = try await TestConnection.connect(port: port, receiveBuffer: 16 * 1024, keepBytes: false)
        try await peer.stopReading()
        let total = 32 << 20
        let chunk = [UInt8](repeating: 0x62, count: 1 << 20)
        // Written without waiting: the peer's own queue holds what the service does not take.
        for _ in 0..<(total >> 20) { peer.channel.writeAndFlush(ByteBuffer(bytes: chunk), promise: nil) }
        let session = try await onlySession()
        var last: UInt64 = 0
        try await eventually("the service to stop taking bytes") {
            let now = try switchboard.session(session.id).bytesIn
            defer { last = now }
            if now == last && now > 0 { return true }
            try await Task.sleep(for: .milliseconds(200))
            return false
        }
        XCTAssertLessThan(last, UInt64(total / 2), "the service kept reading from a peer that does not read")
        try await peer.resumeReading()
        try await eventually("every byte echoed", timeout: .seconds(30)) { peer.receivedCount == total }
        XCTAssertEqual(try switchboard.session(session.id).bytesOut, UInt64(total))
    }
}

extension SwitchboardTests {
    /// A server that greets and hangs up at once: the greeting is the session's, even when it
    /// arrived before the session existed.
    func testABannerSentBeforeTheSessionExistsIsKept() async throws {
        let upstream = try await TestUpstream.start(.send(bytes: 5))
        defer { Task { await upstream.stop() } }
        for round in 0..<20 {
            let info = try await switchboard.connect(ConnectSpec(endpoint: .host("127.0.0.1", port: upstream.port)))
            try await eventually("round \(round): closed") { try switchboard.session(info.id).state == .closed }
            XCTAssertEqual(try switchboard.session(info.id).bytesIn, 5, "round \(round)")
            let page = try await switchboard.messages(info.id, after: 0, wait: .zero)
            XCTAssertEqual(page.messages.reduce(0) { $0 + $1.data.readableBytes }, 5, "round \(round)")
        }
    }
}
