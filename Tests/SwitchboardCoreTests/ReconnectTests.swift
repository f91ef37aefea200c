#if canImport(Glibc)
import Glibc
#endif
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

extension ReconnectTests {
    /// A listening socket whose accept queue is full: connects to it hang until they time out.
    private func unansweredPort() throws -> (port: Int, fds: [Int32]) {
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, length) } }
        _ = listen(server, 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(server, $0, &length) } }
        var fds = [server]
        // Fill the queue; once full, the kernel drops further SYNs.
        for _ in 0..<4 {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) } }
            fds.append(client)
        }
        return (Int(UInt16(bigEndian: address.sin_port)), fds)
    }

    /// Stopping a reconnecting session while its first attempt is still connecting ends the
    /// request that started it (it used to wait for a report that never came).
    func testStoppingDuringTheFirstAttemptEndsTheStartRequest() async throws {
        let (port, fds) = try unansweredPort()
        defer { fds.forEach { close($0) } }
        let spec = ConnectSpec(endpoint: .host("127.0.0.1", port: port), name: "plc-1", connectTimeout: .seconds(30), reconnect: fast)
        let starting = Task { [client] in try await client!.startReconnecting(spec) }
        try await eventually("the first attempt under way") { client.reconnecting(named: "plc-1").first?.state == .connecting }
        _ = try await client.stopReconnecting(named: "plc-1")
        let status = try await starting.value
        XCTAssertEqual(status.state, .stopped)
        XCTAssertTrue(client.reconnecting().isEmpty)
    }
}
