import Foundation
import Logging
import NIOPosix
@testable import SwitchboardSystemd
import SwitchboardTestSupport
import XCTest

final class SystemdTests: XCTestCase {
    func testNotifierIsSilentWithoutNotifySocket() {
        XCTAssertNil(SystemdNotifier(environment: [:]))
        XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]))
        XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]))
    }

    func testNotifierSendsToAPathAndToTheAbstractNamespace() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for path in [folder.appendingPathComponent("notify").path, "@switchboard-test-\(UUID().uuidString.prefix(8))"] {
            let sink = try DatagramSink(path: path)
            defer { sink.close() }
            let notifier = try XCTUnwrap(SystemdNotifier(environment: ["NOTIFY_SOCKET": path]))
            XCTAssertTrue(notifier.ready(status: "up"))
            XCTAssertTrue(notifier.watchdog())
            try await eventually("two datagrams at \(path)") { sink.messages.count == 2 }
            XCTAssertEqual(sink.messages, ["READY=1\nSTATUS=up", "WATCHDOG=1"])
        }
    }

    func testSocketActivationFindsTheAPISocket() {
        let pid = getpid()
        XCTAssertNil(SocketActivation(environment: [:]))
        XCTAssertNil(SocketActivation(environment: ["LISTEN_FDS": "1", "LISTEN_PID": String(pid + 1)]), "meant for another process")
        let one = SocketActivation(environment: ["LISTEN_FDS": "1", "LISTEN_PID": String(pid)])
        XCTAssertEqual(one?.api, .init(fd: 3, name: "unknown"))
        let named = SocketActivation(environment: ["LISTEN_FDS": "2", "LISTEN_PID": String(pid), "LISTEN_FDNAMES": "metrics:api"])
        XCTAssertEqual(named?.api, .init(fd: 4, name: "api"))
        XCTAssertNil(SocketActivation(environment: ["LISTEN_FDS": "2", "LISTEN_FDNAMES": "a:b"])?.api, "two sockets, neither named api")
    }

    func testWatchdogNeedsItsEnvironmentAndChecksTheLoops() async throws {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent"])
        let group = MultiThreadedEventLoopGroup.singleton
        let logger = Logger(label: "test")
        XCTAssertNil(WatchdogService(notifier: notifier, group: group, logger: logger, environment: [:]))
        XCTAssertNil(WatchdogService(notifier: nil, group: group, logger: logger, environment: ["WATCHDOG_USEC": "1000000"]))
        XCTAssertNil(WatchdogService(notifier: notifier, group: group, logger: logger, environment: ["WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"]))
        let watchdog = try XCTUnwrap(WatchdogService(notifier: notifier, group: group, logger: logger, environment: ["WATCHDOG_USEC": "1000000"]))
        XCTAssertEqual(watchdog.interval, .milliseconds(500), "half of WATCHDOG_USEC")
        let alive = await watchdog.loopsAreAlive()
        XCTAssertTrue(alive)

        // A loop that is stuck makes the check fail instead of pinging.
        let stuckGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let release = DispatchSemaphore(value: 0)
        stuckGroup.next().execute { release.wait() }
        let stuck = try XCTUnwrap(WatchdogService(notifier: notifier, group: stuckGroup, logger: logger, environment: ["WATCHDOG_USEC": "200000"]))
        let answered = await stuck.loopsAreAlive()
        XCTAssertFalse(answered)
        release.signal()
        try await stuckGroup.shutdownGracefully()
    }

    func testJournalPrioritiesAndDetection() {
        XCTAssertEqual(StderrLogHandler.priority(.error), 3)
        XCTAssertEqual(StderrLogHandler.priority(.warning), 4)
        XCTAssertEqual(StderrLogHandler.priority(.info), 6)
        XCTAssertFalse(StderrLogHandler.stderrIsJournal(environment: [:]))
        XCTAssertFalse(StderrLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "1:2"]), "not our stderr")
        var info = stat()
        fstat(STDERR_FILENO, &info)
        XCTAssertTrue(StderrLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)"]))
    }
}
