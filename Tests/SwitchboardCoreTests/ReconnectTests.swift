import Logging
import NIOCore
import NIOPosix
import Synchronization
import SwitchboardCore
import SwitchboardTestSupport
import XCTest

/// Named sessions the service keeps connected.
final class ReconnectTests: XCTestCase {
    private final class StatusRecorder: SwitchboardObserver {
        let seen = Mutex<[ReconnectStatus.State]>([])
        func sessionReconnecting(_ status: ReconnectStatus) { seen.withLock { $0.append(status.state) } }
    }

    private var server: Switchboard!
    private var client: Switchboard!
    private let recorder = StatusRecorder()
    private let fast = ReconnectPolicy(initial: .milliseconds(20), max: .milliseconds(100), jitter: false)

    override func setUp() async throws {
        var logger = Logger(label: "reconnect-test")
        logger.logLevel = .warning
        server = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        client = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, observers: [recorder])
    }

    override func tearDown() async throws {
        await client.shutdown()
        await server.shutdown()
    }

    private func echo(port: Int = 0) async throws -> Int {
        let info = try await server.createListener(ListenerSpec(name: "echo", address: .host("127.0.0.1", port: port), mode: .echo))
        return Int(info.address.split(separator: ":").last!)!
    }

    private func current() -> ReconnectStatus { client.reconnecting(named: "plc-1")[0] }

    func testReconnectsWhenTheServerGoesAwayAndComesBack() async throws {
        let port = try await echo()
        let status = try await client.startReconnecting(ConnectSpec(endpoint: .host("127.0.0.1", port: port), name: "plc-1", reconnect: fast))
        XCTAssertEqual(status.state, .connected)
        let first = try XCTUnwrap(status.sessionID)
        XCTAssertEqual(try client.session(first).name, "plc-1")

        _ = try await server.deleteListener(named: "echo", closeSessions: true)
        try await eventually("failed attempts while the server is away") { current().failures >= 2 }
        XCTAssertNotNil(current().lastError)
        XCTAssertEqual(try client.session(first).state, .closed)

        _ = try await echo(port: port)
        try await eventually("connected again") { current().state == .connected && current().sessionID != first }
        XCTAssertEqual(current().failures, 0)
        // Each connection is a session of its own under the one name.
        XCTAssertEqual(client.sessions(.init(name: "plc-1")).count, 2)
        XCTAssertEqual(client.sessions(.init(state: .open, name: "plc-1")).count, 1)

        let stopped = try await client.stopReconnecting(named: "plc-1")
        XCTAssertEqual(stopped.state, .stopped)
        XCTAssertTrue(client.reconnecting().isEmpty)
        XCTAssertEqual(client.sessions(.init(state: .open, name: "plc-1")).count, 0)
        let seen = recorder.seen.withLock { $0 }
        XCTAssertTrue(seen.contains(.waiting) && seen.contains(.connected) && seen.last == .stopped, "\(seen)")
    }

    func testAFirstAttemptThatFailsIsRetriedUntilTheServerAppears() async throws {
        let port = try await echo()
        _ = try await server.deleteListener(named: "echo", closeSessions: true)
        let status = try await client.startReconnecting(ConnectSpec(endpoint: .host("127.0.0.1", port: port), name: "plc-1", reconnect: fast))
        XCTAssertEqual(status.state, .waiting)
        XCTAssertEqual(status.failures, 1)
        XCTAssertNotNil(status.nextAttemptAt)
        XCTAssertTrue(status.lastError?.contains("refused") ?? false, "\(status.lastError ?? "")")
        _ = try await echo(port: port)
        try await eventually("connected") { current().state == .connected }
    }

    func testClosingTheCurrentSessionStopsRetrying() async throws {
        let port = try await echo()
        let status = try await client.startReconnecting(ConnectSpec(endpoint: .host("127.0.0.1", port: port), name: "plc-1", reconnect: fast))
        let closed = try await client.closeSession(try XCTUnwrap(status.sessionID), reset: false)
        XCTAssertEqual(closed.closeReason, .local)
        XCTAssertTrue(client.reconnecting().isEmpty)
        XCTAssertEqual(client.sessions(.init(state: .open)).count, 0)
    }

    func testTheNameIsTakenWhileReconnecting() async throws {
        let port = try await echo()
        _ = try await client.startReconnecting(ConnectSpec(endpoint: .host("127.0.0.1", port: port), name: "plc-1", reconnect: fast))
        do {
            _ = try await client.connect(ConnectSpec(endpoint: .host("127.0.0.1", port: port), name: "plc-1"))
            XCTFail("the name belongs to the reconnecting session")
        } catch {
            XCTAssertEqual(error.kind, .nameTaken)
        }
    }

    func testBackoffDoublesToTheMaximum() {
        let policy = ReconnectPolicy(initial: .milliseconds(100), max: .milliseconds(1000), jitter: false)
        XCTAssertEqual(policy.delay(afterFailures: 0), .milliseconds(100))
        XCTAssertEqual(policy.delay(afterFailures: 1), .milliseconds(200))
        XCTAssertEqual(policy.delay(afterFailures: 3), .milliseconds(800))
        XCTAssertEqual(policy.delay(afterFailures: 10), .milliseconds(1000))
        let jittered = ReconnectPolicy(initial: .milliseconds(100), max: .milliseconds(1000), jitter: true)
        for _ in 0..<100 {
            let delay = jittered.delay(afterFailures: 2)
            XCTAssertTrue(delay >= .milliseconds(200) && delay <= .milliseconds(400), "\(delay)")
        }
    }
}
