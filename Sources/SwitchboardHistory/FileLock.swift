#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRDB
import Synchronization

/// An exclusive lock on the history file for as long as a service writes it: a second service
/// on the same file is refused before it changes anything (it would mark the first one's live
/// sessions interrupted). `flock`, which SQLite's own POSIX locks do not see: readers such as
/// `switchboard history` are never refused. The kernel drops it when the process dies.
final class FileLock: Sendable {
    private let fd: Mutex<Int32?>

    init(holding path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreHeld(description: "cannot open the history file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            guard code == EWOULDBLOCK else {
                throw StoreHeld(description: "cannot lock the history file \(path): \(String(cString: strerror(code)))")
            }
            throw StoreHeld(description: "the history file \(path) is in use by another switchboard (\(Self.holder(of: path) ?? "holder unknown")); stop it first, or give this one another --db")
        }
        self.fd = Mutex(fd)
    }

    /// Lets go of the lock at once (a service that stopped), not when the last reference goes.
    func release() {
        fd.withLock { fd in
            if let open = fd { close(open) }
            fd = nil
        }
    }

    deinit { release() }

    /// What the holder wrote into the file when it took the lock.
    private static func holder(of path: String) -> String? {
        guard let reader = try? HistoryDatabase(readingOnly: path) else { return nil }
        return try? reader.pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM service_state WHERE key = 'holder'") }
    }
}
