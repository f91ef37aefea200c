import Foundation
import GRDB
import Logging
import ServiceLifecycle
import SwitchboardCore

/// How much history to keep. Open sessions are never pruned.
public struct RetentionPolicy: Sendable {
    public var days: Int?
    public var sessions: Int?
    public init(days: Int? = nil, sessions: Int? = nil) {
        self.days = days
        self.sessions = sessions
    }
    public var isEmpty: Bool { days == nil && sessions == nil }
}

extension HistoryDatabase {
    /// Deletes what the policy no longer keeps, oldest first, at most `chunk` sessions per
    /// transaction so the writer never waits long. Answers how many sessions went.
    public func prune(_ policy: RetentionPolicy, now: Date, chunk: Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await pool.write { db -> Int in
                var ids: [String] = []
                if let days = policy.days {
                    let cutoff = now.addingTimeInterval(-Double(days) * 86_400)
                    // The id bound (a ULID starts with its opening millisecond, 2 ms of slack)
                    // ends the walk at the first session young enough, with nothing to prune too.
                    ids = try String.fetchAll(db, sql: """
                        SELECT id FROM sessions WHERE id < ? AND state != 'open' AND opened_at < ? ORDER BY id LIMIT ?
                        """, arguments: [SessionID.lowerBound(at: cutoff.addingTimeInterval(0.002)), RFC3339.format(cutoff), chunk])
                }
                if ids.isEmpty, let keep = policy.sessions {
                    // The newest `keep` sessions stay; older ones go.
                    ids = try String.fetchAll(db, sql: """
                        SELECT id FROM sessions WHERE state != 'open'
                          AND id < (SELECT id FROM sessions ORDER BY id DESC LIMIT 1 OFFSET ?)
                        ORDER BY id LIMIT ?
                        """, arguments: [max(0, keep - 1), chunk])
                }
                guard !ids.isEmpty else { return 0 }
                let placeholders = databaseQuestionMarks(count: ids.count)
                try db.execute(sql: "DELETE FROM messages WHERE session_id IN (\(placeholders))", arguments: StatementArguments(ids))
                try db.execute(sql: "DELETE FROM sessions WHERE id IN (\(placeholders))", arguments: StatementArguments(ids))
                return ids.count
            }
            total += deleted
            if deleted < chunk { return total }
            await Task.yield()
        }
    }
}

/// Prunes what the retention policy no longer keeps, in the background: once at start and
/// then every `interval`.
public struct RetentionService: Service {
    let database: any HistoryStore
    let policy: RetentionPolicy
    let interval: Duration
    let logger: Logger

    public init(database: any HistoryStore, policy: RetentionPolicy, interval: Duration = .seconds(60), logger: Logger) {
        self.database = database
        self.policy = policy
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // A service that returns would stop the whole group: with nothing to prune, just wait.
        guard !policy.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let pruned = try await database.prune(policy)
                if pruned > 0 { logger.info("history pruned", metadata: ["sessions": "\(pruned)"]) }
            } catch {
                logger.warning("history pruning failed; will retry", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

