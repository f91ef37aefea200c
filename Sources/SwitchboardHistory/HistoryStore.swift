import Foundation
import SwitchboardCore

/// What reads the history: the API's `/v1/history`, `switchboard history`. Both backends (the
/// SQLite file here, PostgreSQL in SwitchboardHistoryPostgres) answer the same filters with
/// the same rows, cursors and order, so the API and the command line never ask which it is.
public protocol HistoryReading: Sendable {
    /// Where the history is, as `/v1/info` and log lines show it: the file's path, or the
    /// database URL without its password.
    var location: String { get }
    /// A page of sessions, newest first, keyset-paginated on the id (a ULID, so time order).
    func page(_ filter: HistoryFilter, limit: Int, cursor: String?) async throws -> HistoryPage
    func session(id: String) async throws -> SessionRecord?
    func messages(sessionID: String, after: Int64, limit: Int) async throws -> [MessageRecord]
    func stats(since: Date?, until: Date?) async throws -> [HistoryStats]
    func count() async throws -> Int
    /// Lets go of what the store holds (connections, the lease, the file lock).
    func close() async
}

/// What the service keeps its history and its listeners in, for one instance: start-up (the
/// spool's replay, sessions a killed run left open), the writer's batches, retention, and the
/// listeners and reconnecting sessions it restores. Every row it writes carries `instance`;
/// what it restores and marks interrupted is that instance's only.
public protocol HistoryStore: HistoryReading, ListenerStore {
    /// The instance this store writes for (`--instance`).
    var instance: String { get }
    /// Writes what the spool held when the service last stopped, before open sessions are
    /// marked interrupted. Idempotent: a kill during the replay replays again next time.
    func replay(_ recovery: SessionSpool.Recovery) async throws -> Int
    /// This instance's sessions still `open` belonged to a run that ended without closing them:
    /// they become `interrupted`, closed when that run was last known alive.
    func markInterrupted(now: Date) async throws -> Int
    func savedListeners() async throws -> [SavedListener]
    func savedReconnecting() async throws -> [SavedReconnecting]
    /// Writes one batch in one transaction and notes that the service is alive. Returns only
    /// once the database has it: a record counts as written then, never before. A session
    /// appears at most once in `sessions`... or, when it does not, its last row wins.
    func write(sessions: [SessionRecord], messages: [MessageRecord], aliveAt now: Date) async throws
    /// Nil while writes can land where readers will find them; else why not (a deleted file, a
    /// lost instance lease). Cheap: the writer asks once a second.
    func problem() -> String?
    /// Deletes what the policy no longer keeps, oldest first, at most `chunk` sessions per
    /// transaction; answers how many sessions went. Open sessions are never pruned.
    func prune(_ policy: RetentionPolicy, now: Date, chunk: Int) async throws -> Int
}

extension HistoryReading {
    public func page(_ filter: HistoryFilter, limit: Int) async throws -> HistoryPage {
        try await page(filter, limit: limit, cursor: nil)
    }

    public func messages(sessionID: String, after: Int64 = 0) async throws -> [MessageRecord] {
        try await messages(sessionID: sessionID, after: after, limit: 1_000)
    }

    /// Every matching session, newest first, handed over in chunks so memory stays flat
    /// however many rows match.
    public func forEachChunk(_ filter: HistoryFilter, chunkSize: Int = 1_000, _ body: ([SessionRecord]) async throws -> Void) async throws {
        var cursor: String?
        repeat {
            let page = try await self.page(filter, limit: chunkSize, cursor: cursor)
            if !page.sessions.isEmpty { try await body(page.sessions) }
            cursor = page.nextCursor
        } while cursor != nil
    }
}

extension HistoryStore {
    public func markInterrupted() async throws -> Int { try await markInterrupted(now: Date()) }
    public func prune(_ policy: RetentionPolicy, now: Date = Date()) async throws -> Int {
        try await prune(policy, now: now, chunk: 500)
    }
}
