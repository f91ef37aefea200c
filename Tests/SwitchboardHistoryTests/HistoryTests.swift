import Foundation
import GRDB
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
@testable import SwitchboardHistory
import SwitchboardTestSupport
import XCTest

final class HistoryTests: XCTestCase {
    private var folder: URL!
    private var logger: Logger = {
        var logger = Logger(label: "history-test")
        logger.logLevel = .warning
        return logger
    }()

    override func setUp() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-history-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private var path: String { folder.appendingPathComponent("history.sqlite3").path }

    /// A writer running as it does in the service, for the length of `body`.
    private func withWriter(_ database: HistoryDatabase, _ body: (HistoryWriter, Switchboard) async throws -> Void) async throws {
        let writer = HistoryWriter(database: database, logger: logger)
        let switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, observers: [writer], store: database)
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

    func testMigrationsComeFromTheMigrationsFolderInOrder() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.migrationsFolder.path).filter { $0.hasSuffix(".sql") }.sorted()
        XCTAssertEqual(HistoryDatabase.migrations.map { $0.name + ".sql" }, files)
        for (name, sql) in HistoryDatabase.migrations {
            XCTAssertEqual(sql.trimmingCharacters(in: .whitespacesAndNewlines),
                           try String(contentsOf: Self.migrationsFolder.appendingPathComponent(name + ".sql"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
                           "the binary carries \(name) as written")
        }
        let database = try HistoryDatabase(path: path)
        XCTAssertEqual(try database.appliedMigrations(), HistoryDatabase.migrations.map(\.name))
        try database.pool.read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA journal_mode"), "wal")
            XCTAssertEqual(try Int.fetchOne(db, sql: "PRAGMA synchronous"), 1, "NORMAL")
        }
    }

    func testADatabaseMadeByAnOlderSetOfMigrationsMigratesToTheNewest() throws {
        let all = HistoryDatabase.migrations
        XCTAssertGreaterThan(all.count, 1, "there is an older set to start from")
        do {
            let old = try HistoryDatabase(path: path, migrations: Array(all.prefix(1)))
            try old.pool.write { db in
                try db.execute(sql: """
                    INSERT INTO sessions (id, role, listener, state, opened_at, bytes_in, bytes_out)
                    VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'server', 'old', 'open', '2026-01-01T00:00:00.000Z', 1, 2)
                    """)
            }
        }
        let new = try HistoryDatabase(path: path)
        XCTAssertEqual(try new.appliedMigrations(), all.map(\.name))
        let row = try new.pool.read { db in try SessionRecord.fetchOne(db, key: "01ARZ3NDEKTSV4RRFFQ69G5FAV") }
        XCTAssertEqual(row?.listener, "old")
        XCTAssertEqual(row?.capture, false, "new columns get their defaults")
        XCTAssertEqual(try new.markInterrupted(), 1)
    }

    func testEveryChurnedSessionIsRecordedWithItsFinalState() async throws {
        let database = try HistoryDatabase(path: path)
        try await withWriter(database) { writer, switchboard in
            let info = try await switchboard.createListener(ListenerSpec(name: "echo", address: .host("127.0.0.1", port: 0), mode: .echo))
            let port = Int(info.address.split(separator: ":").last!)!
            let total = 1_000
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        for i in stride(from: worker, to: total, by: 16) {
                            let peer = try await TestConnection.connect(port: port)
                            try await peer.send("session \(i)")
                            try await peer.read(atLeast: "session \(i)".utf8.count)
                            await peer.close()
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await eventually("every session to be closed") { switchboard.counts.openSessions == 0 }
            let written = await writer.waitUntilWritten()
            XCTAssertTrue(written)
            let rows = try await database.pool.read { db in try SessionRecord.fetchAll(db) }
            XCTAssertEqual(rows.count, total)
            XCTAssertTrue(rows.allSatisfy { $0.state == "closed" && $0.closedAt != nil && $0.listener == "echo" })
            XCTAssertEqual(rows.reduce(0) { $0 + $1.bytesIn }, rows.reduce(0) { $0 + $1.bytesOut })
            XCTAssertEqual(Set(rows.map(\.id)).count, total)
            XCTAssertEqual(writer.health.dropped, 0)
        }
    }

    func testASessionIsInTheHistoryWhileOpen() async throws {
        let database = try HistoryDatabase(path: path)
        try await withWriter(database) { _, switchboard in
            let info = try await switchboard.createListener(ListenerSpec(name: "hold", address: .host("127.0.0.1", port: 0), mode: .hold))
            let peer = try await TestConnection.connect(port: Int(info.address.split(separator: ":").last!)!)
            // Within the batch window, without anybody asking for a flush.
            try await eventually("the open session in the file", timeout: .seconds(2)) {
                try await database.page(HistoryFilter(state: .open), limit: 10).sessions.count == 1
            }
            // A reset: a hold session outlives its client's FIN, awaiting an answer.
            await peer.reset()
            try await eventually("its close in the file", timeout: .seconds(2)) {
                try await database.page(HistoryFilter(state: .closed), limit: 10).sessions.first?.closeReason == "reset"
            }
        }
    }

    func testListenersAreStoredAndDeletedForGood() async throws {
        let database = try HistoryDatabase(path: path)
        try await withWriter(database) { _, switchboard in
            let info = try await switchboard.createListener(ListenerSpec(name: "kept", address: .host("127.0.0.1", port: 0), mode: .reply(ByteBuffer(string: "hi"), closeAfterReply: true), maxSessions: 3, capture: true))
            _ = try await switchboard.createListener(ListenerSpec(name: "gone", address: .host("127.0.0.1", port: 0), mode: .echo))
            _ = try await switchboard.deleteListener(named: "gone", closeSessions: true)
            let saved = try database.savedListeners()
            XCTAssertEqual(saved.map(\.spec.name), ["kept"])
            XCTAssertEqual(saved[0].spec.address.description, info.address, "a port picked by the kernel is kept")
            XCTAssertEqual(saved[0].spec.mode, .reply(ByteBuffer(string: "hi"), closeAfterReply: true))
            XCTAssertEqual(saved[0].spec.maxSessions, 3)
            XCTAssertTrue(saved[0].spec.capture)
        }
    }

    func testADisabledListenerIsStoredDisabledAndComesBackUnbound() async throws {
        let database = try HistoryDatabase(path: path)
        var bound = ""
        try await withWriter(database) { _, switchboard in
            let info = try await switchboard.createListener(ListenerSpec(name: "p", address: .host("127.0.0.1", port: 0), mode: .forward(to: .host("127.0.0.1", port: 9), resetOnFailure: false)))
            bound = info.address
            try await switchboard.changeListener(named: "p") { $0.enabled = false }
            let saved = try database.savedListeners()
            XCTAssertEqual(saved.map(\.spec.enabled), [false])
            XCTAssertEqual(saved[0].spec.address.description, bound, "the port it was bound to, to listen on again when enabled")
        }
        let switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, store: database)
        let result = await switchboard.restoreListeners(try database.savedListeners())
        XCTAssertEqual(result.restored, 1)
        let info = try switchboard.listener(named: "p")
        XCTAssertEqual(info.state, .disabled)
        XCTAssertEqual(info.address, bound)
        let enabled = try await switchboard.changeListener(named: "p") { $0.enabled = true }
        XCTAssertEqual(enabled.state, .listening)
        XCTAssertEqual(try database.savedListeners().map(\.spec.enabled), [true])
        await switchboard.shutdown()
    }

    func testAListenerWhoseAddressIsTakenIsReportedNotDropped() async throws {
        let database = try HistoryDatabase(path: path)
        let blocker = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        defer { blocker.close(promise: nil) }
        let port = blocker.localAddress!.port!
        let switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, store: database)
        let result = await switchboard.restoreListeners([SavedListener(spec: ListenerSpec(name: "blocked", address: .host("127.0.0.1", port: port), mode: .echo), createdAt: Date())])
        XCTAssertEqual(result.failed, 1)
        let info = try switchboard.listener(named: "blocked")
        XCTAssertEqual(info.state, .failed)
        XCTAssertNotNil(info.error)
        _ = try await switchboard.deleteListener(named: "blocked", closeSessions: false)
        XCTAssertThrowsError(try switchboard.listener(named: "blocked"))
        await switchboard.shutdown()
    }

    func testCaptureRecordsBothDirectionsUpToItsLimit() async throws {
        let database = try HistoryDatabase(path: path)
        let writer = HistoryWriter(database: database, logger: logger)
        let switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, observers: [writer], captureLimit: 10)
        let info = try await switchboard.createListener(ListenerSpec(name: "cap", address: .host("127.0.0.1", port: 0), mode: .echo, capture: true))
        let peer = try await TestConnection.connect(port: Int(info.address.split(separator: ":").last!)!)
        try await peer.send("abcdef")
        try await peer.read(atLeast: 6)
        await peer.close()
        try await eventually("the close") { switchboard.counts.openSessions == 0 }
        await switchboard.shutdown()
        let flushed = await writer.flush()
        XCTAssertTrue(flushed)
        let session = try await database.page(HistoryFilter(), limit: 1).sessions[0]
        XCTAssertTrue(session.capture)
        XCTAssertTrue(session.captureTruncated, "12 bytes went through a 10-byte cap")
        let messages = try await database.messages(sessionID: session.id)
        XCTAssertEqual(messages.map(\.direction), ["in", "out"])
        XCTAssertEqual(messages.map { String(decoding: $0.data, as: UTF8.self) }, ["abcdef", "abcd"])
    }

    func testPagesWalkEveryRowOnceWhileNewSessionsArrive() async throws {
        let database = try HistoryDatabase(path: path)
        func insert(_ count: Int) async throws -> [String] {
            let records = (0..<count).map { _ -> SessionRecord in
                var record = SessionRecord(SessionInfo.sample())
                record.state = "closed"
                record.closedAt = record.openedAt
                return record
            }
            try await database.write(records.map { .session($0) }, aliveAt: Date())
            return records.map(\.id)
        }
        let before = try await insert(250)
        var seen: [String] = []
        var cursor: String?
        var arrived: [String] = []
        repeat {
            let page = try await database.page(HistoryFilter(), limit: 40, cursor: cursor)
            seen += page.sessions.map(\.id)
            cursor = page.nextCursor
            arrived += try await insert(7)
        } while cursor != nil
        XCTAssertEqual(seen.count, Set(seen).count, "no row twice")
        XCTAssertEqual(Set(seen), Set(before), "every row that was there, and only those, newest first")
        XCTAssertEqual(seen, seen.sorted(by: >))
        XCTAssertFalse(arrived.isEmpty)
    }

    func testFiltersNarrowAndStatsAddUp() async throws {
        let database = try HistoryDatabase(path: path)
        var rows: [SessionRecord] = []
        for i in 0..<30 {
            var record = SessionRecord(SessionInfo.sample(listener: i % 3 == 0 ? "a" : "b", remote: "10.0.0.\(i % 5):4000", bytes: UInt64(i)))
            if i % 2 == 0 { record.state = "closed"; record.closedAt = record.openedAt; record.closeReason = "peer" }
            rows.append(record)
        }
        try await database.write(rows.map { .session($0) }, aliveAt: Date())
        let a = try await database.page(HistoryFilter(listener: "a"), limit: 100).sessions
        XCTAssertEqual(a.count, 10)
        let open = try await database.page(HistoryFilter(state: .open), limit: 100).sessions
        XCTAssertEqual(open.count, 15)
        let remote = try await database.page(HistoryFilter(remote: "10.0.0.3"), limit: 100).sessions
        XCTAssertEqual(remote.count, 6)
        let percent = try await database.page(HistoryFilter(remote: "%"), limit: 100).sessions
        XCTAssertEqual(percent.count, 0, "LIKE wildcards in a prefix are taken literally")
        let big = try await database.page(HistoryFilter(minBytes: 40), limit: 100).sessions
        XCTAssertEqual(big.count, 10, "bytes in + out = 2i ≥ 40 for i ≥ 20")
        let stats = try await database.stats(since: nil, until: nil)
        XCTAssertEqual(stats.reduce(0) { $0 + $1.sessions }, 30)
        XCTAssertEqual(stats.reduce(0) { $0 + $1.bytesIn }, Int64((0..<30).reduce(0, +)))
    }

    func testTimeRangesAreHalfOpenOnOpeningTime() async throws {
        let database = try HistoryDatabase(path: path)
        let t0 = Date(timeIntervalSince1970: 1_790_000_000)
        let times = [t0, t0.addingTimeInterval(0.001), t0.addingTimeInterval(3600), t0.addingTimeInterval(7200)]
        try await database.write(times.map { .session(SessionRecord(SessionInfo.sample(openedAt: $0))) }, aliveAt: Date())
        func count(_ filter: HistoryFilter) async throws -> Int { try await database.page(filter, limit: 100).sessions.count }
        let fromStart = try await count(HistoryFilter(since: t0))
        XCTAssertEqual(fromStart, 4)
        let afterFirstMillisecond = try await count(HistoryFilter(since: t0.addingTimeInterval(0.001)))
        XCTAssertEqual(afterFirstMillisecond, 3)
        let untilStart = try await count(HistoryFilter(until: t0))
        XCTAssertEqual(untilStart, 0, "until is exclusive")
        let window = try await count(HistoryFilter(since: t0.addingTimeInterval(1800), until: t0.addingTimeInterval(5400)))
        XCTAssertEqual(window, 1)
        let withListener = try await count(HistoryFilter(listener: "l", state: .open, until: t0.addingTimeInterval(3600)))
        XCTAssertEqual(withListener, 2)
        let stats = try await database.stats(since: t0.addingTimeInterval(1), until: nil)
        XCTAssertEqual(stats.reduce(0) { $0 + $1.sessions }, 2)
    }

    /// The state index holds only sessions that are not closed (migration 0006), and SQLite
    /// uses such an index only when the query repeats its condition: the few open or
    /// interrupted sessions among a million must still be found through it.
    func testOpenAndInterruptedFiltersUseThePartialStateIndex() async throws {
        let database = try HistoryDatabase(path: path)
        func plan(_ filter: HistoryFilter) async throws -> String {
            let (clause, arguments) = filter.sql(before: "01ZZZZZZZZZZZZZZZZZZZZZZZZ")
            return try await database.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM sessions \(clause) ORDER BY id DESC LIMIT 101", arguments: arguments)
                    .map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        for state in [HistoryState.open, .interrupted] {
            let used = try await plan(HistoryFilter(state: state))
            XCTAssertTrue(used.contains("sessions_by_state"), "\(state): \(used)")
        }
        let closed = try await plan(HistoryFilter(state: .closed))
        XCTAssertFalse(closed.contains("sessions_by_state"), closed)
        let interruptedAtStart = try await database.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN UPDATE sessions SET state = 'interrupted' WHERE state = 'open' AND state != 'closed'")
                .map { $0["detail"] as String }.joined()
        }
        XCTAssertTrue(interruptedAtStart.contains("sessions_by_state"), interruptedAtStart)
    }

    func testRetentionPrunesOldClosedSessionsAndKeepsOpenOnes() async throws {
        let database = try HistoryDatabase(path: path)
        let old = Date().addingTimeInterval(-10 * 86_400)
        var rows: [SessionRecord] = []
        for i in 0..<1_200 {
            var record = SessionRecord(SessionInfo.sample(openedAt: i < 1_100 ? old : Date()))
            if i != 0 { record.state = "closed"; record.closedAt = record.openedAt }
            rows.append(record)
        }
        try await database.write(rows.map { .session($0) }, aliveAt: Date())
        let pruned = try await database.prune(RetentionPolicy(days: 7), chunk: 100)
        XCTAssertEqual(pruned, 1_099, "every old closed session, in chunks")
        let afterDays = try await database.count()
        XCTAssertEqual(afterDays, 101)
        let kept = try await database.prune(RetentionPolicy(sessions: 50))
        XCTAssertEqual(kept, 50)
        let afterCount = try await database.count()
        XCTAssertEqual(afterCount, 51, "the 50 newest and the open one")
    }

    static let migrationsFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations")
}

extension SessionInfo {
    static func sample(listener: String = "l", remote: String = "127.0.0.1:5000", bytes: UInt64 = 0, openedAt: Date = Date()) -> SessionInfo {
        SessionInfo(
            id: .make(at: openedAt), role: .server, listener: listener, name: nil, localAddress: "127.0.0.1:9000",
            remoteAddress: remote, state: .open, openedAt: openedAt, closedAt: nil, closeReason: nil,
            bytesIn: bytes, bytesOut: bytes, capture: false, captureTruncated: false
        )
    }
}

extension HistoryTests {
    /// min_bytes reads through the bytes index when few sessions match and walks ids when
    /// many do; both ways every match comes once, newest first, across pages.
    func testMinBytesPagesTheSameWhetherMatchesAreFewOrMany() async throws {
        let database = try HistoryDatabase(path: folder.appendingPathComponent("bytes.sqlite3").path)
        let start = Date().addingTimeInterval(-3600)
        var rows: [SessionRecord] = []
        for i in 0..<(HistoryDatabase.indexedBigSessions + 2_000) {
            rows.append(SessionRecord(SessionInfo.sample(bytes: i % 200 == 0 ? 10_000 : 10, openedAt: start.addingTimeInterval(Double(i) / 1000))))
        }
        try await database.write(rows.map { .session($0) }, aliveAt: Date())
        for (minBytes, expected) in [(20_000, rows.filter { $0.bytesIn + $0.bytesOut >= 20_000 }), (1, rows)] {
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await database.page(HistoryFilter(minBytes: Int64(minBytes)), limit: 7, cursor: cursor)
                seen += page.sessions.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil && seen.count < 100
            let wanted = Array(expected.map(\.id).sorted(by: >).prefix(seen.count))
            XCTAssertEqual(seen, wanted, "min_bytes \(minBytes)")
            XCTAssertEqual(seen.count, min(expected.count, 105), "min_bytes \(minBytes): 15 pages of 7, or all there are")
            if minBytes == 20_000 { XCTAssertEqual(expected.count, 260, "few enough for the index") }
        }
    }
}
