import Foundation
import GRDB
import GRDBSQLite
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
@testable import SwitchboardHistory
import SwitchboardTestSupport
import XCTest

final class HistoryTests: HistoryTestCase {
    private var path: String { dbPath }

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
        XCTAssertEqual(try new.markInterrupted(now: Date()), 1)
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

    /// The state index holds only sessions that are not closed (migration 0006), and SQLite
    /// uses such an index only when the query repeats its condition: the few open or
    /// interrupted sessions among a million must still be found through it.
    func testStateAndNameFiltersUseTheirPartialIndexes() async throws {
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
        // Only named sessions are in the name index, and a name filter still finds it.
        let named = try await plan(HistoryFilter(name: "keeper"))
        XCTAssertTrue(named.contains("sessions_by_name"), named)
        let entries = try await database.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'sessions_by_name'")?["sql"] as String?
        }
        XCTAssertEqual(entries?.contains("WHERE name IS NOT NULL"), true, entries ?? "no sessions_by_name")
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
    /// An SQLite that takes fewer parameters a statement than 64 records need (999, the limit
    /// before 3.32) still gets a large batch written, in smaller statements.
    func testABatchIsWrittenWhereSQLiteTakesFewerParameters() async throws {
        let database = try HistoryDatabase(path: folder.appendingPathComponent("limit.sqlite3").path)
        let lowered = try await database.pool.write { db in
            sqlite3_limit(db.sqliteConnection, SQLITE_LIMIT_VARIABLE_NUMBER, 999)
            return sqlite3_limit(db.sqliteConnection, SQLITE_LIMIT_VARIABLE_NUMBER, -1)
        }
        XCTAssertEqual(lowered, 999)
        let records = (0..<100).map { SessionRecord(SessionInfo.sample(listener: "l-\($0)")) }
        try await database.write(sessions: records, messages: [], aliveAt: Date())
        let count = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sessions") }
        XCTAssertEqual(count, 100)
    }

    /// min_bytes reads through the bytes index when few sessions match and walks ids when
    /// many do; both ways every match comes once, newest first, across pages.
    func testMinBytesPagesTheSameWhetherMatchesAreFewOrMany() async throws {
        let database = try HistoryDatabase(path: folder.appendingPathComponent("bytes.sqlite3").path)
        let start = Date().addingTimeInterval(-3600)
        var rows: [SessionRecord] = []
        for i in 0..<52_000 {
            rows.append(SessionRecord(SessionInfo.sample(bytes: i % 200 == 0 ? 10_000 : 10, openedAt: start.addingTimeInterval(Double(i) / 1000))))
        }
        try await database.write(sessions: rows, messages: [], aliveAt: Date())
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
            if minBytes == 20_000 { XCTAssertEqual(expected.count, 260, "one in 200, all of them old but the newest few") }
        }
    }
}
