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
}
