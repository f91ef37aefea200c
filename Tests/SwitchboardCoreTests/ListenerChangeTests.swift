import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import SwitchboardCore
import SwitchboardTestSupport
import XCTest

/// A listener disabled, enabled again and given a new address or upstream: what Toxiproxy does
/// to a proxy, on real sockets.
final class ListenerChangeTests: XCTestCase {
    private var switchboard: Switchboard!

    override func setUp() async throws {
        var logger = Logger(label: "listener-change-test")
        logger.logLevel = .warning
        switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    override func tearDown() async throws {
        await switchboard.shutdown()
    }

    private func port(_ info: ListenerInfo) -> Int { Int(info.address.split(separator: ":").last!)! }

    /// Connecting to a closed port on loopback is refused at once.
    private func refused(_ port: Int) async -> Bool {
        do {
            let connection = try await TestConnection.connect(port: port)
            await connection.close()
            return false
        } catch let error as NIOConnectionError {
            return error.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
        } catch {
            return (error as? IOError)?.errnoCode == ECONNREFUSED
        }
    }

    func testDisablingClosesThePortAndEveryConnectionAndEnablingListensOnTheSamePortAgain() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let latency = Fault(name: "slow", type: .latency, attributes: ["latency": 1])
        let created = try await switchboard.createListener(ListenerSpec(
            name: "p", address: .host("127.0.0.1", port: 0), mode: .forward(to: .host("127.0.0.1", port: upstream.port), resetOnFailure: false),
            faults: [latency]
        ))
        let bound = port(created)
        let client = try await TestConnection.connect(port: bound)
        try await client.send("ping")
        _ = try await client.read(atLeast: 4)

        let disabled = try await switchboard.changeListener(named: "p") { $0.enabled = false }
        XCTAssertEqual(disabled.state, .disabled)
        XCTAssertEqual(disabled.address, created.address, "a disabled listener shows the address it had")
        XCTAssertEqual(disabled.faults, [latency], "a disabled listener keeps its faults")
        try await client.waitForClose()
        let refusedWhileDisabled = await refused(bound)
        XCTAssertTrue(refusedWhileDisabled, "the port is closed while disabled")
        XCTAssertEqual(switchboard.sessions(.init(state: .open)).count, 0)

        let enabled = try await switchboard.changeListener(named: "p") { $0.enabled = true }
        XCTAssertEqual(enabled.state, .listening)
        XCTAssertEqual(enabled.address, created.address, "a port picked with :0 is kept across a disable")
        XCTAssertEqual(enabled.totalSessions, 1, "the counters go on")
        let again = try await TestConnection.connect(port: bound)
        try await again.send("pong")
        let echoed = try await again.read(atLeast: 4)
        XCTAssertEqual(String(decoding: echoed, as: UTF8.self), "pong")
        await again.close()

        let same = try await switchboard.changeListener(named: "p") { $0.enabled = true }
        XCTAssertEqual(same.state, .listening, "an unchanged spec changes nothing")
    }

    func testANewUpstreamOrAddressRestartsTheListener() async throws {
        let first = try await TestUpstream.start(.echo)
        let second = try await TestUpstream.start(.echo)
        defer { Task { await first.stop(); await second.stop() } }
        let created = try await switchboard.createListener(ListenerSpec(
            name: "p", address: .host("127.0.0.1", port: 0), mode: .forward(to: .host("127.0.0.1", port: first.port), resetOnFailure: false)
        ))
        let live = try await TestConnection.connect(port: port(created))
        try await live.send("a")
        _ = try await live.read(atLeast: 1)

        try await switchboard.changeListener(named: "p") { $0.mode = .forward(to: .host("127.0.0.1", port: second.port), resetOnFailure: false) }
        try await live.waitForClose()
        let moved = try await TestConnection.connect(port: port(created))
        try await moved.send("b")
        _ = try await moved.read(atLeast: 1)
        await moved.close()
        XCTAssertEqual(second.accepted, 1, "new connections go to the new upstream")

        let elsewhere = try await switchboard.changeListener(named: "p") { $0.address = .host("127.0.0.1", port: 0) }
        XCTAssertNotEqual(port(elsewhere), port(created))
        let refusedOldPort = await refused(port(created))
        XCTAssertTrue(refusedOldPort, "the old address is closed")
        XCTAssertEqual(elsewhere.state, .listening)
    }

    func testAnAddressThatCannotBeBoundLeavesTheListenerDisabledWithIt() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let taken = try await switchboard.createListener(ListenerSpec(name: "taken", address: .host("127.0.0.1", port: 0), mode: .echo))
        _ = try await switchboard.createListener(ListenerSpec(
            name: "p", address: .host("127.0.0.1", port: 0), mode: .forward(to: .host("127.0.0.1", port: upstream.port), resetOnFailure: false)
        ))
        let takenPort = port(taken)
        do {
            try await switchboard.changeListener(named: "p") { $0.address = .host("127.0.0.1", port: takenPort) }
            XCTFail("binding a taken port must fail")
        } catch {
            XCTAssertEqual(error.kind, .addressInUse)
        }
        let after = try switchboard.listener(named: "p")
        XCTAssertEqual(after.state, .disabled)
        XCTAssertEqual(after.address, taken.address)
    }

    func testADisabledListenerCanBeCreatedAndDeletedAndNamesAreChecked() async throws {
        let created = try await switchboard.createListener(ListenerSpec(
            name: "off", address: .host("127.0.0.1", port: 0), mode: .forward(to: .host("127.0.0.1", port: 9), resetOnFailure: false), enabled: false
        ))
        XCTAssertEqual(created.state, .disabled)
        XCTAssertEqual(created.address, "127.0.0.1:0", "never bound: the address asked for")
        do {
            try await switchboard.changeListener(named: "nope") { $0.enabled = false }
            XCTFail("an unknown listener")
        } catch {
            XCTAssertEqual(error.kind, .notFound)
        }
        do {
            try await switchboard.changeListener(named: "off") { $0.name = "other" }
            XCTFail("a name cannot change")
        } catch {
            XCTAssertEqual(error.kind, .invalidArgument)
        }
        _ = try await switchboard.deleteListener(named: "off", closeSessions: true)
        XCTAssertTrue(switchboard.listeners().isEmpty)
    }
}
