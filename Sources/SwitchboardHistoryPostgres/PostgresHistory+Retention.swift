import Foundation
import PostgresNIO
import SwitchboardCore
import SwitchboardHistory

extension PostgresHistory {
    /// As the SQLite file prunes, over this instance's sessions only: each instance keeps its
    /// own `--retain-days` and `--retain-sessions`, and one never deletes another's.
    public func prune(_ policy: RetentionPolicy, now: Date, chunk: Int) async throws -> Int {
        let instance = self.instance
        let logger = Self.quiet(self.logger)
        var total = 0
        while true {
            let deleted = try await transaction { connection -> Int in
                var ids: [String] = []
                if let days = policy.days {
                    let cutoff = now.addingTimeInterval(-Double(days) * 86_400)
                    let bound = SessionID.lowerBound(at: cutoff.addingTimeInterval(0.002))
                    for try await id in try await connection.query("""
                        SELECT id FROM sessions WHERE instance = \(instance) AND id < \(bound) AND state <> 'open'
                          AND opened_at < \(RFC3339.format(cutoff))::timestamptz ORDER BY id LIMIT \(chunk)
                        """, logger: logger).decode(String.self) { ids.append(id) }
                }
                if ids.isEmpty, let keep = policy.sessions {
                    for try await id in try await connection.query("""
                        SELECT id FROM sessions WHERE instance = \(instance) AND state <> 'open'
                          AND id < (SELECT id FROM sessions WHERE instance = \(instance) ORDER BY id DESC LIMIT 1 OFFSET \(max(0, keep - 1)))
                        ORDER BY id LIMIT \(chunk)
                        """, logger: logger).decode(String.self) { ids.append(id) }
                }
                guard !ids.isEmpty else { return 0 }
                try await connection.query("DELETE FROM messages WHERE session_id = ANY(\(ids))", logger: logger)
                try await connection.query("DELETE FROM sessions WHERE id = ANY(\(ids))", logger: logger)
                return ids.count
            }
            total += deleted
            if deleted < chunk { return total }
            await Task.yield()
        }
    }
}
