import Foundation
import Logging
import PostgresNIO

/// The schema's files (`migrations/postgres/*.sql`, compiled in), applied in order, each in a
/// transaction, under an advisory lock: instances that start together migrate once, the others
/// wait for the lock and find nothing left to do.
enum PostgresMigrations {
    /// The files compiled in from `migrations/postgres/`, oldest first.
    static var all: [(name: String, sql: String)] { EmbeddedPostgresMigrations.all }

    /// "switchboard migrations", as a 64-bit advisory lock key.
    static let lockKey: Int64 = 0x7377_6D69_6772_6174

    /// Applies the files `connection`'s database has not had yet; answers their names.
    @discardableResult
    static func apply(_ migrations: [(name: String, sql: String)] = all, on connection: LiveConnection, logger: Logger) async throws -> [String] {
        try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
        do {
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<String>()
            for try await name in try await connection.query("SELECT name FROM schema_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            var done: [String] = []
            for (name, sql) in migrations where !applied.contains(name) {
                try await connection.query("BEGIN", logger: logger)
                do {
                    for statement in statements(sql) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO schema_migrations (name) VALUES (\(name))", logger: logger)
                    try await connection.query("COMMIT", logger: logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw PostgresStoreError("the PostgreSQL migration \(name) failed: \(PostgresStoreError.summary(error, server: "the server"))")
                }
                done.append(name)
            }
            try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            return done
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            throw error
        }
    }

    /// The statements of a file, which postgres-nio sends one at a time (its extended protocol
    /// takes one per query): split at each `;` that ends a line, comments dropped. The files keep
    /// to that (migrations/postgres/README.md).
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let code = line.range(of: "--").map { String(line[..<$0.lowerBound]) } ?? String(line)
            let trimmed = code.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            current += code + "\n"
            if trimmed.hasSuffix(";") {
                statements.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }
}
