import Foundation
import Logging
import SwitchboardHistory
import SwitchboardHistoryPostgres
import SwitchboardTestSupport
import XCTest

/// Both stores a history test runs against: a SQLite file in a temporary folder, and a
/// database of its own on a throwaway PostgreSQL server (one server per test class). Without
/// PostgreSQL's programs only SQLite runs, and CI (which installs them) fails instead.
final class HistoryBackends: @unchecked Sendable {
    // @unchecked: set up once per class, before its tests, then only read.
    nonisolated(unsafe) static var server: PostgresServer?
    nonisolated(unsafe) static var databases = 0

    static func startServer() {
        do {
            server = try PostgresServer.start()
        } catch {
            print("cannot start PostgreSQL for the tests: \(error)")
        }
    }

    static func stopServer() {
        server?.shutdown()
        server = nil
    }

    static var logger: Logger {
        var logger = Logger(label: "history-test")
        logger.logLevel = .warning
        return logger
    }

    /// A new, empty database on the class's server.
    static func freshPostgresURL() throws -> String? {
        guard let server else { return nil }
        databases += 1
        let name = "t\(databases)_\(UUID().uuidString.prefix(6).lowercased())"
        _ = try server.sql("CREATE DATABASE \(name)")
        return "postgres://\(server.user)@127.0.0.1:\(server.port)/\(name)"
    }

    /// Runs `body` once per backend, each with a store of its own for `instance`.
    static func each(
        instance: String = "test", in folder: URL, file: StaticString = #filePath, line: UInt = #line,
        _ body: (_ store: any HistoryStore, _ open: @escaping @Sendable (String) async throws -> any HistoryStore) async throws -> Void
    ) async throws {
        let path = folder.appendingPathComponent("history-\(UUID().uuidString.prefix(6)).sqlite3").path
        let sqlite = try HistoryDatabase(path: path, instance: instance)
        try await run("SQLite", sqlite, file: file, line: line) {
            try await body(sqlite) { other in try HistoryDatabase(path: path, instance: other) }
        }
        guard let url = try freshPostgresURL() else {
            let missing = PostgresServer.missing ?? "the server did not start"
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("PostgreSQL is needed for the history suite when CI is set: \(missing)", file: file, line: line)
            }
            return
        }
        let parsed = try PostgresURL(parsing: url)
        let postgres = try await PostgresHistory.open(parsed, password: nil, instance: instance, logger: logger)
        try await run("PostgreSQL", postgres, file: file, line: line) {
            try await body(postgres) { other in try await PostgresHistory.open(parsed, password: nil, instance: other, logger: logger) }
        }
    }

    private static func run(_ name: String, _ store: any HistoryStore, file: StaticString, line: UInt, _ body: () async throws -> Void) async throws {
        do {
            try await body()
            await store.close()
        } catch {
            await store.close()
            XCTFail("\(name): \(error)", file: file, line: line)
            throw error
        }
    }
}
