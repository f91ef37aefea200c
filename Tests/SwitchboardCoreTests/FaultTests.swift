#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix
import SwitchboardCore
import SwitchboardTestSupport
import XCTest

/// Faults on real sockets: on listeners, live pairs, reconnecting sessions and one session.
final class FaultTests: XCTestCase {
    private var switchboard: Switchboard!

    override func setUp() async throws {
        var logger = Logger(label: "fault-test")
        logger.logLevel = .warning
        switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    override func tearDown() async throws {
        await switchboard.shutdown()
    }

    private func listen(_ name: String, _ mode: ListenerMode, faults: [Fault] = []) async throws -> Int {
        let info = try await switchboard.createListener(ListenerSpec(name: name, address: .host("127.0.0.1", port: 0), mode: mode, faults: faults))
        return Int(info.address.split(separator: ":").last!)!
    }

    private func roundTrip(_ connection: TestConnection, _ text: String) async throws -> Duration {
        let before = connection.receivedCount
        let start = ContinuousClock.now
        try await connection.send(text)
        try await connection.read(atLeast: before + text.utf8.count)
        return ContinuousClock.now - start
    }

    func testAFaultAddedToAListenerReachesItsLiveConnectionsAndGoesAgain() async throws {
        let port = try await listen("echo", .echo)
        let client = try await TestConnection.connect(port: port)
        let quick = try await roundTrip(client, "a")
        XCTAssertLessThan(quick, .milliseconds(100))
        try await switchboard.addFault(Fault(name: "slow", type: .latency, attributes: ["latency": 150]), to: .listener("echo"))
        let slow = try await roundTrip(client, "b")
        XCTAssertGreaterThanOrEqual(slow, .milliseconds(150))
        XCTAssertLessThan(slow, .seconds(2))
        try await switchboard.removeFault(named: "slow", from: .listener("echo"))
        let again = try await roundTrip(client, "c")
        XCTAssertLessThan(again, .milliseconds(100))
        XCTAssertEqual(client.receivedText, "abc")
        let session = switchboard.sessions(.init(state: .open)).first!
        XCTAssertEqual(session.faults.map(\.name), ["slow"])
        XCTAssertEqual(session.faults.map(\.applied), [true])
    }

    /// Faults come and go on a forwarded pair while bytes stream both ways: every byte arrives,
    /// in order, at both ends.
    func testAddingAndRemovingFaultsUnderTrafficLosesAndReordersNothing() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let port = try await listen("fwd", .forward(to: .host("127.0.0.1", port: upstream.port), resetOnFailure: false))
        let client = try await TestConnection.connect(port: port)
        let payload = (0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let sender = Task {
            var offset = 0
            while offset < payload.count {
                let end = min(payload.count, offset + 8_192)
                try await client.send(Array(payload[offset..<end]))
                offset = end
            }
        }
        let faults = [
            Fault(name: "lat-up", type: .latency, direction: .upstream, attributes: ["latency": 5, "jitter": 4]),
            Fault(name: "lat-down", type: .latency, direction: .downstream, attributes: ["latency": 3]),
            Fault(name: "slice", type: .slicer, attributes: ["average_size": 700, "size_variation": 300, "delay": 50]),
            Fault(name: "bw", type: .bandwidth, direction: .upstream, attributes: ["rate": 20_000]),
        ]
        for round in 0..<12 {
            let fault = faults[round % faults.count]
            try await switchboard.addFault(fault, to: .listener("fwd"))
            // Each fault stays on while bytes pass it, and comes off with bytes held.
            let seen = client.receivedCount
            try await eventually("bytes through \(fault.name)", timeout: .seconds(30)) { client.receivedCount >= min(payload.count, seen + 100_000) }
            try await switchboard.removeFault(named: fault.name, from: .listener("fwd"))
        }
        try await sender.value
        let echoed = try await client.read(atLeast: payload.count, timeout: .seconds(60))
        XCTAssertEqual(echoed.count, payload.count)
        XCTAssertTrue(echoed == payload, "the bytes came back as they were sent")
        XCTAssertEqual(upstream.bytesReceived, payload.count)
    }

    func testResetPeerGivesTheClientAReset() async throws {
        let port = try await listen("echo", .echo, faults: [Fault(name: "rst", type: .resetPeer, direction: .upstream, attributes: ["timeout": 50])])
        let client = try await TestConnection.connect(port: port)
        try await client.send("hello")
        try await client.waitForClose()
        XCTAssertEqual((client.closeError as? IOError)?.errnoCode, ECONNRESET)
        XCTAssertEqual(client.receivedCount, 0, "swallowed, not echoed")
        try await eventually("closed") { switchboard.sessions(.init(state: .closed)).count == 1 }
        XCTAssertEqual(switchboard.sessions().first?.closeReason, .fault("reset_peer"))
    }

    func testLimitDataThroughAForwardListenerPassesExactlyItsBytes() async throws {
        let upstream = try await TestUpstream.start(.send(bytes: 1_000_000))
        defer { Task { await upstream.stop() } }
        let port = try await listen(
            "fwd", .forward(to: .host("127.0.0.1", port: upstream.port), resetOnFailure: false),
            faults: [Fault(name: "cap", type: .limitData, attributes: ["bytes": 12_345])]
        )
        let client = try await TestConnection.connect(port: port)
        try await client.waitForClose()
        XCTAssertEqual(client.receivedCount, 12_345)
    }

    func testConnectDelayHoldsTheUpstreamConnectAndNothingIsLost() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let port = try await listen(
            "fwd", .forward(to: .host("127.0.0.1", port: upstream.port), resetOnFailure: false),
            faults: [Fault(name: "slow-open", type: .connectDelay, attributes: ["delay": 200])]
        )
        let start = ContinuousClock.now
        let client = try await TestConnection.connect(port: port)
        try await client.send("early")
        try await client.read(atLeast: 5)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(200))
        XCTAssertEqual(client.receivedText, "early")
    }

    func testConnectDelayIsRefusedWhereThereIsNoUpstreamConnect() async throws {
        do {
            _ = try await listen("echo", .echo, faults: [Fault(name: "d", type: .connectDelay, attributes: ["delay": 1])])
            XCTFail("accepted")
        } catch let error as SwitchboardError {
            XCTAssertEqual(error.kind, .invalidArgument)
            XCTAssertTrue(error.message.contains("connect_delay"), error.message)
        }
    }

    func testAFaultOnOneSessionLeavesTheOthersAlone() async throws {
        let port = try await listen("echo", .echo)
        let first = try await TestConnection.connect(port: port)
        let second = try await TestConnection.connect(port: port)
        try await eventually("two sessions") { switchboard.sessions(.init(state: .open)).count == 2 }
        let firstSession = switchboard.sessions(.init(state: .open)).first { $0.remoteAddress?.hasSuffix(":\(first.channel.localAddress!.port!)") == true }!
        try await switchboard.addFault(Fault(name: "hole", type: .blackhole), to: .session(firstSession.id))
        try await second.send("ok")
        try await second.read(atLeast: 2)
        try await first.send("lost")
        // The second connection's echo arrives after the first's would have: still nothing.
        try await second.send("!")
        try await second.read(atLeast: 3)
        XCTAssertEqual(first.receivedCount, 0)
        XCTAssertEqual(try switchboard.faults(on: .session(firstSession.id)).map(\.name), ["hole"])
        XCTAssertEqual(try switchboard.faults(on: .listener("echo")), [])
    }

    func testAReconnectingSessionsFaultsApplyToEveryConnectionItMakes() async throws {
        let port = try await listen("echo", .echo)
        let spec = ConnectSpec(
            endpoint: .host("127.0.0.1", port: port), name: "dev", reconnect: ReconnectPolicy(initial: .milliseconds(20), max: .milliseconds(50), jitter: false),
            faults: [Fault(name: "slow", type: .latency, direction: .upstream, attributes: ["latency": 100])]
        )
        let status = try await switchboard.startReconnecting(spec)
        let id = try XCTUnwrap(status.sessionID)
        let start = ContinuousClock.now
        try await switchboard.send(id, ByteBuffer(string: "ping"))
        _ = try await switchboard.messages(id, after: 0, wait: .seconds(5))
        var page = try await switchboard.messages(id, after: 0, wait: .zero)
        while !page.messages.contains(where: { $0.direction == .in }) {
            page = try await switchboard.messages(id, after: page.messages.last?.seq ?? 0, wait: .seconds(5))
        }
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(100))
        XCTAssertEqual(switchboard.reconnecting(named: "dev").first?.faults.map(\.name), ["slow"])
        try await switchboard.changeFault(named: "slow", on: .reconnecting("dev")) { $0.attributes["latency"] = 0 }
        XCTAssertEqual(try switchboard.faults(on: .reconnecting("dev")).first?["latency"], 0)
    }

    func testAnOperatorsCloseIsNotHeldBehindAFaultAndWhatItHeldGoesFirst() async throws {
        let port = try await listen("echo", .echo, faults: [
            Fault(name: "day", type: .latency, attributes: ["latency": 86_400_000]),
            Fault(name: "slow-fin", type: .slowClose, attributes: ["delay": 86_400_000]),
        ])
        let client = try await TestConnection.connect(port: port)
        try await client.send("held")
        try await eventually("the echo held") { switchboard.sessions(.init(state: .open)).first?.bytesOut == 4 }
        XCTAssertEqual(client.receivedCount, 0)
        let id = switchboard.sessions(.init(state: .open)).first!.id
        _ = try await switchboard.closeSession(id, reset: false)
        try await client.waitForClose()
        XCTAssertEqual(client.receivedText, "held")
    }

    func testFaultEditsAreCheckedAndNamed() async throws {
        _ = try await listen("echo", .echo)
        try await switchboard.addFault(Fault(name: "f", type: .latency), to: .listener("echo"))
        await assertRefused(.nameTaken) { try await self.switchboard.addFault(Fault(name: "f", type: .blackhole), to: .listener("echo")) }
        await assertRefused(.notFound) { try await self.switchboard.addFault(Fault(name: "g", type: .blackhole), to: .listener("nope")) }
        await assertRefused(.notFound) { try await self.switchboard.removeFault(named: "g", from: .listener("echo")) }
        await assertRefused(.notFound) { try await self.switchboard.addFault(Fault(name: "g", type: .blackhole), to: .session(.make())) }
        await assertRefused(.invalidArgument) { try await self.switchboard.changeFault(named: "f", on: .listener("echo")) { $0.toxicity = 2 } }
        XCTAssertEqual(try switchboard.faults(on: .listener("echo")).first?.toxicity, 1, "a refused change changes nothing")
    }

    private func assertRefused(_ kind: SwitchboardError.Kind, _ body: @escaping () async throws -> Any, line: UInt = #line) async {
        do {
            _ = try await body()
            XCTFail("accepted", line: line)
        } catch let error as SwitchboardError {
            XCTAssertEqual(error.kind, kind, error.message, line: line)
        } catch {
            XCTFail("\(error)", line: line)
        }
    }
}
