import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
@testable import SwitchboardHistory
import XCTest

/// What the history's test classes share: a temporary folder of their own per test (the
/// SQLite file and its spool go there), a quiet logger, and a writer run as the service runs it.
class HistoryTestCase: XCTestCase {
    var folder: URL!
    let logger: Logger = {
        var logger = Logger(label: "history-test")
        logger.logLevel = .critical
        return logger
    }()

    override func setUp() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-\(Self.self)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: folder)
    }

    var dbPath: String { folder.appendingPathComponent("history.sqlite3").path }
    var spoolPath: String { SessionSpool.path(besideDatabase: dbPath)! }

    /// A writer running as it does in the service, for the length of `body`.
    func withWriter(
        _ database: any HistoryStore, captureLimit: Int = Switchboard.defaultCaptureLimit,
        _ body: (HistoryWriter, Switchboard) async throws -> Void
    ) async throws {
        let writer = HistoryWriter(database: database, logger: logger)
        let switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, observers: [writer], store: database, captureLimit: captureLimit)
        let group = ServiceGroup(configuration: .init(services: [writer], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let outcome: Result<Void, any Error>
            do {
                try await body(writer, switchboard)
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            await switchboard.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            try outcome.get()
        }
    }
}
