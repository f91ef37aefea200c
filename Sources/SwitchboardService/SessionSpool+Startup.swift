#if canImport(Glibc)
import Glibc
#endif
import Logging
import SwitchboardHistory

extension SessionSpool {
    /// Replays what an earlier run left in the spool, then creates it afresh.
    ///
    /// A spool that cannot be read, or records SQLite will not take, stop the start: creating
    /// the spool afresh would throw them away. A spool that cannot be created (the disk has no
    /// room for it) leaves the service running without one, loudly.
    static func openAtStartup(at path: String?, megabytes: Int, history: any HistoryStore, logger: Logger) async throws -> SessionSpool? {
        guard let path else { return nil }
        func replay(_ recovery: SessionSpool.Recovery) async throws {
            do {
                let replayed = try await history.replay(recovery)
                if replayed > 0 {
                    logger.notice("sessions recovered from the spool into the history", metadata: [
                        "sessions": "\(replayed)", "records": "\(recovery.count)", "torn": "\(recovery.tornRecords)",
                    ])
                }
            } catch {
                throw StartFailure("cannot replay the session spool \(path) into the history: \(error)")
            }
        }
        guard megabytes > 0 else {
            // Replayed, so nothing is lost by removing it; left behind it would replay again.
            do {
                try await SessionSpool.replayAndRemove(at: path, replay: replay)
            } catch let failure as SessionSpool.Failure {
                throw StartFailure("\(failure)")
            }
            logger.warning("no session spool (--history-spool-mb 0): a SIGKILL loses the sessions of the last batch window")
            return nil
        }
        do {
            return try await SessionSpool.open(at: path, bytes: megabytes << 20, replay: replay)
        } catch let failure as SessionSpool.Failure where failure.kind == .noRoom {
            // Whatever the file held was replayed before its creation could fail.
            unlink(path)
            logger.critical("cannot create the session spool: a SIGKILL loses the sessions of the last batch window, a full disk those past 200,000 records", metadata: [
                "error": "\(failure)",
            ])
            return nil
        } catch let failure as SessionSpool.Failure {
            throw StartFailure("\(failure)")
        }
    }
}
