import Foundation
import SwitchboardHistory
@testable import SwitchboardHistoryPostgres
import SwitchboardTestSupport
import XCTest

/// What is PostgreSQL's own: the URL as `--db` takes it (and never shows its password), the
/// schema's files, and instances that start together migrating once.
final class PostgresStoreTests: XCTestCase {
    override class func setUp() { HistoryBackends.startServer() }
    override class func tearDown() { HistoryBackends.stopServer() }

    func testTheURLIsReadAsLibpqReadsItAndShownWithoutItsPassword() throws {
        let url = try PostgresURL(parsing: "postgresql://fleet:p%40ss:w@db.example:6543/history?sslmode=verify-full")
        XCTAssertEqual(url.user, "fleet")
        XCTAssertEqual(url.password, "p@ss:w", "percent-decoded; a colon after the first belongs to the password")
        XCTAssertEqual(url.host, "db.example")
        XCTAssertEqual(url.port, 6543)
        XCTAssertEqual(url.database, "history")
        XCTAssertEqual(url.tls, .verifyFull)
        XCTAssertEqual(url.description, "postgres://fleet@db.example:6543/history?sslmode=verify-full")
        XCTAssertFalse(url.description.contains("p@ss"))
        let socket = try PostgresURL(parsing: "postgres://me@/db?host=/run/postgresql")
        XCTAssertEqual(socket.server, "/run/postgresql/.s.PGSQL.5432")
        let v6 = try PostgresURL(parsing: "postgres://me@[::1]:5433/db")
        XCTAssertEqual(v6.server, "[::1]:5433")
        XCTAssertTrue(PostgresURL.isURL("POSTGRES://x@y/z"))
        XCTAssertFalse(PostgresURL.isURL("./postgres.sqlite3"), "a path stays a SQLite file")
        for (text, expected) in [
            ("postgres://db.example/history", "names no user"),
            ("postgres://me@db.example:0/history", "port '0'"),
            ("postgres://me@db.example", "names no database"),
            ("postgres://me@db.example/history?sslmode=prefer", "sslmode 'prefer'"),
            ("postgres://me@db.example/history?password=secret", "not as password="),
            ("postgres://me@db.example/history?application_name=x", "'application_name'"),
            ("postgres://me:sec%zzret@db.example/history", "percent-encoding"),
        ] {
            XCTAssertThrowsError(try PostgresURL(parsing: text), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(text): \(error)")
                XCTAssertFalse("\(error)".contains("secret") || "\(error)".contains("sec%zz"), "\(error)")
            }
        }
    }

    func testTheMigrationsComeFromTheirFolderAndSplitIntoStatements() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("migrations/postgres")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        XCTAssertEqual(PostgresMigrations.all.map { $0.name + ".sql" }, files)
        XCTAssertEqual(PostgresMigrations.statements("-- a comment; not a statement\nCREATE TABLE a (x INT); -- trailing\nCREATE INDEX b\n  ON a (x);\n"),
                       ["CREATE TABLE a (x INT);", "CREATE INDEX b\n  ON a (x);"])
    }

    /// A database made by the first schema file alone (as the first builds with PostgreSQL made
    /// it) migrates to the newest: its rows get their size bucket, and min_bytes finds them.
    func testADatabaseOfTheFirstSchemaMigratesToTheNewest() async throws {
        guard let text = try HistoryBackends.freshPostgresURL() else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail(PostgresServer.missing ?? "no PostgreSQL") }
            throw XCTSkip(PostgresServer.missing ?? "no PostgreSQL")
        }
        let server = try XCTUnwrap(HistoryBackends.server)
        let database = String(text.split(separator: "/").last!)
        let first = try XCTUnwrap(PostgresMigrations.all.first)
        XCTAssertEqual(first.name, "0001_initial")
        _ = try server.sql(first.sql, database: database)
        _ = try server.sql("""
            CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
            INSERT INTO schema_migrations (name) VALUES ('0001_initial');
            INSERT INTO sessions (id, role, listener, state, opened_at, closed_at, bytes_in, bytes_out, capture, capture_truncated, instance)
                VALUES ('01JF00000000000000000000D4', 'server', 'old', 'closed', now(), now(), 3000, 100, false, false, 'test');
            """, database: database)
        let store = try await PostgresHistory.open(try PostgresURL(parsing: text), password: nil, instance: "test", logger: HistoryBackends.logger)
        let big = try await store.page(HistoryFilter(minBytes: 2048), limit: 10).sessions.map(\.id)
        XCTAssertEqual(big, ["01JF00000000000000000000D4"])
        let none = try await store.page(HistoryFilter(minBytes: 4096), limit: 10).sessions
        XCTAssertEqual(none.count, 0)
        let applied = try server.sql("SELECT name FROM schema_migrations ORDER BY name", database: database)
        XCTAssertEqual(applied, PostgresMigrations.all.map { "\($0.name)\n" }.joined())
        await store.close()
    }

    /// Eight instances opening a new database at once: the schema is made once, each holds its
    /// own lease.
    func testInstancesStartingTogetherMigrateOnce() async throws {
        guard let text = try HistoryBackends.freshPostgresURL() else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail(PostgresServer.missing ?? "no PostgreSQL") }
            throw XCTSkip(PostgresServer.missing ?? "no PostgreSQL")
        }
        let url = try PostgresURL(parsing: text)
        let logger = HistoryBackends.logger
        let stores = try await withThrowingTaskGroup(of: PostgresHistory.self) { group in
            for i in 0..<8 {
                group.addTask { try await PostgresHistory.open(url, password: nil, instance: "i\(i)", logger: logger) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(stores.count, 8)
        let server = try XCTUnwrap(HistoryBackends.server)
        let database = String(text.split(separator: "/").last!)
        let applied = try server.sql("SELECT name, count(*) FROM schema_migrations GROUP BY name ORDER BY name", database: database)
        XCTAssertEqual(applied, PostgresMigrations.all.map { "\($0.name)|1\n" }.joined())
        let instances = try server.sql("SELECT count(*) FROM instances", database: database)
        XCTAssertEqual(instances, "8\n")
        for store in stores { await store.close() }
    }

    /// The server ends the writer's connection in the middle of a batch (pg_terminate_backend,
    /// what a restart or a failover does): the write fails at once with the reason, not at its
    /// deadline and not by taking the process down, nothing of the batch is in the table, and the
    /// next write goes through on a new connection, as does one after the idle connections are
    /// ended too.
    func testAConnectionTheServerEndsMidBatchFailsThatBatchAndTheNextIsWritten() async throws {
        guard let text = try HistoryBackends.freshPostgresURL() else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail(PostgresServer.missing ?? "no PostgreSQL") }
            throw XCTSkip(PostgresServer.missing ?? "no PostgreSQL")
        }
        let server = try XCTUnwrap(HistoryBackends.server)
        let database = String(text.split(separator: "/").last!)
        let store = try await PostgresHistory.open(try PostgresURL(parsing: text), password: nil, instance: "cut", logger: HistoryBackends.logger)
        func rows(_ count: Int, _ tag: String) -> [SessionRecord] {
            (0..<count).map { i in
                SessionRecord(id: "\(tag)-\(i)", role: "server", listener: "l\(i % 7)", name: nil, localAddress: "127.0.0.1:1",
                              remoteAddress: "127.0.0.1:\(i % 60000)", state: "closed", openedAt: "2026-12-02T00:00:00.000Z",
                              closedAt: "2026-12-02T00:00:01.000Z", closeReason: "peer", bytesIn: Int64(i), bytesOut: 1,
                              partnerId: nil, capture: false, captureTruncated: false)
            }
        }
        // Big enough that the statement runs long enough to be seen in pg_stat_activity; a
        // machine that writes it before the terminate lands gets a bigger one.
        var failure: (any Error)?
        var cut = ""
        for size in [20_000, 100_000, 400_000] where failure == nil {
            cut = "big\(size)"
            let batch = rows(size, cut)
            let writing = Task { try await store.write(sessions: batch, messages: [], aliveAt: Date()) }
            let terminator = Task.detached {
                try await eventually("the batch to be running", timeout: .seconds(60)) {
                    let ended = try server.sql("""
                        SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                        WHERE datname = '\(database)' AND state = 'active' AND query LIKE 'INSERT INTO sessions%'
                        """, database: database)
                    return ended != "0\n"
                }
            }
            do { try await writing.value } catch { failure = error }
            terminator.cancel()
            _ = await terminator.result
        }
        let error = try XCTUnwrap(failure, "no batch was running long enough to be cut")
        XCTAssertTrue("\(error)".contains("PostgreSQL at 127.0.0.1:\(server.port)"), "\(error)")
        XCTAssertFalse("\(error)".contains("gave no answer"), "the failure was noticed, not timed out: \(error)")
        // A smaller batch that ran to its end before it could be cut is in the table; the cut one is not.
        func count(_ tag: String) throws -> String {
            try server.sql("SELECT count(*) FROM sessions WHERE id LIKE '\(tag)-%'", database: database)
        }
        XCTAssertEqual(try count(cut), "0\n", "a cut batch leaves nothing")

        try await store.write(sessions: rows(10, "after"), messages: [], aliveAt: Date())
        XCTAssertEqual(try count("after"), "10\n")

        // Every connection of the store's ended while idle (the lease's too): a write may meet
        // one that just went (an error at once), and the one after it is written.
        _ = try server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()", database: database)
        do {
            try await store.write(sessions: rows(10, "again"), messages: [], aliveAt: Date())
        } catch {
            XCTAssertFalse("\(error)".contains("gave no answer"), "\(error)")
            try await store.write(sessions: rows(10, "again"), messages: [], aliveAt: Date())
        }
        XCTAssertEqual(try count("again"), "10\n")
        await store.close()
    }
}
