import Foundation
import GRDB
import Logging
import ServiceLifecycle
import SwitchboardCore
@testable import SwitchboardHistory
import XCTest

/// The spool's promises: what was appended is in the file whatever happens to the process, a
/// record cut short is skipped and never misread, replay is an idempotent upsert in order, and
/// a full spool refuses records instead of overwriting ones SQLite does not have yet.
final class SessionSpoolTests: HistoryTestCase {
    private func session(_ i: Int, id: SessionID = .make(), closed: Bool = false, reason: CloseReason? = nil) -> SessionInfo {
        let opened = Date(timeIntervalSince1970: 1_800_000_000 + Double(i))
        return SessionInfo(
            id: id, role: i % 2 == 0 ? .server : .client, listener: i % 2 == 0 ? "echo" : nil, name: i % 2 == 0 ? nil : "dev-\(i)",
            localAddress: "127.0.0.1:9000", remoteAddress: "127.0.0.1:\(40_000 + i)", state: closed ? .closed : .open,
            openedAt: opened, closedAt: closed ? opened.addingTimeInterval(0.25) : nil, closeReason: closed ? (reason ?? .peer) : nil,
            bytesIn: UInt64(i), bytesOut: UInt64(2 * i), capture: i % 3 == 0, captureTruncated: false
        )
    }

    /// Two event loops may report one session out of order: a close beats an open whatever its
    /// number, and otherwise the later record wins; each session comes out once, where it first appeared.
    func testEachSessionsWinningRecordComesOutOnce() {
        let (a, b, c) = (SessionID.make(), SessionID.make(), SessionID.make())
        func record(_ seq: UInt64, _ id: SessionID, closed: Bool, bytes: Int) -> SpoolRecord {
            SpoolRecord(seq: seq, session: SessionRecord(session(bytes, id: id, closed: closed)))
        }
        let latest = SpoolRecord.latest([
            record(1, a, closed: false, bytes: 1), record(2, b, closed: false, bytes: 2), record(3, a, closed: true, bytes: 3),
            record(4, b, closed: false, bytes: 4), record(5, c, closed: true, bytes: 5), record(6, c, closed: false, bytes: 6),
            record(7, a, closed: true, bytes: 7),
        ])
        XCTAssertEqual(latest.map(\.id), [a, b, c].map(\.rawValue))
        XCTAssertEqual(latest.map(\.bytesIn), [7, 4, 5], "the later close, the later open, the close over a later open")
        XCTAssertEqual(latest.map(\.state), ["closed", "open", "closed"])
    }

    /// The last word of segment 0's used range, and the range's end, read from the file.
    private func segmentEnd(_ segment: Int = 0) throws -> Int {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: spoolPath))
        defer { try? handle.close() }
        let header = try handle.readToEnd()!
        let segmentBytes = Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self) })
        let at = SessionSpool.fileHeaderBytes + segment * segmentBytes + 8
        return Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) })
    }

    private func overwrite(at offset: Int, with bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: spoolPath))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: bytes)
    }

    func testAppendedRecordsAreInTheFileWithoutTheWriterEverRunning() throws {
        let database = try HistoryDatabase(path: dbPath)
        var infos: [SessionInfo] = []
        var opened: [SessionInfo] = []
        do {
            let spool = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
            // The writer is never run: as if the process were killed right after the appends.
            let writer = HistoryWriter(database: database, spool: spool, logger: logger)
            for i in 0..<100 {
                infos.append(session(i))
                writer.sessionOpened(infos[i])
            }
            opened = infos
            for i in 0..<50 {
                let info = infos[i]
                let closed = session(i, id: info.id, closed: true, reason: i == 7 ? .error(String(repeating: "é", count: 3_000)) : .peer)
                writer.sessionClosed(closed)
                infos[i] = closed
            }
            XCTAssertEqual(writer.health.queued, 150)
        }
        let recovery = try SessionSpool.recover(at: spoolPath)
        XCTAssertEqual(recovery.count, 150)
        XCTAssertEqual(recovery.tornRecords, 0)
        XCTAssertEqual(recovery.records.map(\.seq), Array(1...150))
        XCTAssertEqual(recovery.records[0].session, SessionRecord(opened[0]))
        // A long error text is cut to what a record holds, at a character boundary or with a replacement.
        let cut = SpoolRecord.latest(recovery.records).first { $0.id == infos[7].id.rawValue }!.closeReason!
        XCTAssertLessThanOrEqual(cut.utf8.count, SpoolFormat.maxStringBytes + 3)
        XCTAssertTrue(cut.hasPrefix("error: é"))

        XCTAssertEqual(try database.replay(recovery), 100)
        let rows = try database.pool.read { db in try SessionRecord.fetchAll(db) }
        XCTAssertEqual(rows.count, 100)
        for info in infos where info.id != infos[7].id {
            XCTAssertEqual(rows.first { $0.id == info.id.rawValue }, SessionRecord(info, instance: database.instance))
        }
        XCTAssertEqual(rows.filter { $0.state == "closed" }.count, 50)
    }

    /// Counts past what a column holds come out of the spool as they come out of a session:
    /// at `SessionRecord.maxBytes`, so no store refuses the row (PostgreSQL sums the two).
    func testByteCountsPastTheStoredMaximumLeaveTheSpoolAtIt() throws {
        let huge = SessionInfo(
            id: .make(), role: .server, listener: "echo", name: nil, localAddress: "127.0.0.1:9000",
            remoteAddress: "127.0.0.1:40000", state: .open, openedAt: Date(), closedAt: nil, closeReason: nil,
            bytesIn: .max, bytesOut: UInt64(SessionRecord.maxBytes) + 1, capture: false, captureTruncated: false
        )
        do {
            let spool = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
            HistoryWriter(database: try HistoryDatabase(path: dbPath), spool: spool, logger: logger).sessionOpened(huge)
        }
        let recovery = try SessionSpool.recover(at: spoolPath)
        XCTAssertEqual(recovery.records.map(\.session.bytesIn), [SessionRecord.maxBytes])
        XCTAssertEqual(recovery.records.map(\.session.bytesOut), [SessionRecord.maxBytes])
        XCTAssertEqual(recovery.records.first?.session, SessionRecord(huge))
    }

    func testATornLastRecordIsSkippedAndOneAfterATornRecordIsFound() throws {
        do {
            let spool = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
            for i in 0..<3 { XCTAssertNotNil(spool.append(session(i))) }
        }
        let end = try segmentEnd()
        let third = try SessionSpool.recover(at: spoolPath).records[2]
        XCTAssertEqual(third.seq, 3)
        // The kill came while the last record's tail was being copied: its last word never arrived.
        try overwrite(at: SessionSpool.fileHeaderBytes + end - 8, with: Array(repeating: 0xAB, count: 8))
        var recovery = try SessionSpool.recover(at: spoolPath)
        XCTAssertEqual(recovery.records.map(\.seq), [1, 2])
        XCTAssertEqual(recovery.tornRecords, 1)

        // A reservation another event loop never filled (zeros), with a whole record after it.
        let lengths = try recordLengths(count: 3)
        do {
            let spool = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
            for i in 0..<3 { XCTAssertNotNil(spool.append(session(i))) }
        }
        let second = SessionSpool.fileHeaderBytes + SessionSpool.segmentHeaderBytes + lengths[0]
        try overwrite(at: second, with: Array(repeating: 0, count: lengths[1]))
        recovery = try SessionSpool.recover(at: spoolPath)
        XCTAssertEqual(recovery.records.map(\.seq), [1, 3])
        XCTAssertEqual(recovery.tornRecords, 1)
    }

    private func recordLengths(count: Int) throws -> [Int] {
        (0..<count).map { SpoolFormat.length(session($0), closeReason: nil) }
    }

    func testReplayIsInSequenceOrderAcrossSegmentsAndNeverReopensAClosedSession() throws {
        let database = try HistoryDatabase(path: dbPath)
        let id = SessionID.make()
        do {
            let spool = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
            XCTAssertNotNil(spool.append(session(1, id: id)))
            // The writer sealed the first segment and was killed before its commit: the close
            // went to the other segment, which comes first in the file.
            let sealed = try XCTUnwrap(spool.seal())
            XCTAssertEqual(sealed.segment, 0)
            XCTAssertNotNil(spool.append(session(1, id: id, closed: true)))
            // Opened before the other closed: its interrupted time comes from the spool's newest record.
            XCTAssertNotNil(spool.append(session(0)))
        }
        let recovery = try SessionSpool.recover(at: spoolPath)
        XCTAssertEqual(recovery.records.map(\.seq), [1, 2, 3])
        XCTAssertEqual(try database.replay(recovery), 2)
        XCTAssertEqual(try database.replay(recovery), 2, "replaying again is harmless")
        let row = try database.pool.read { db in try SessionRecord.fetchOne(db, key: id.rawValue) }
        XCTAssertEqual(row?.state, "closed")
        XCTAssertEqual(row?.closeReason, "peer")

        // Only the open record left (its close was committed and its segment cleared): the row stays closed.
        let stale = SessionSpool.Recovery(records: [recovery.records[0]], tornRecords: 0)
        XCTAssertEqual(try database.replay(stale), 1)
        XCTAssertEqual(try database.pool.read { db in try SessionRecord.fetchOne(db, key: id.rawValue) }?.state, "closed")
        // Replay moved last_alive to the newest record, for the interrupted session's closed_at.
        XCTAssertEqual(try database.markInterrupted(now: Date()), 1)
        let interrupted = try database.pool.read { db in try SessionRecord.filter(Column("state") == "interrupted").fetchOne(db) }
        XCTAssertEqual(interrupted?.closedAt, RFC3339.format(Date(timeIntervalSince1970: 1_800_000_001.25)))
    }

    func testAFullSpoolRefusesUntilTheSealedSegmentIsCommitted() throws {
        // SQLite is failing, so nothing is released while the event loops append.
        let spool = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
        var total = 0
        while spool.append(session(total)) != nil { total += 1 }
        XCTAssertGreaterThan(total, 600)
        XCTAssertEqual(spool.pending, total)
        let sealed = try XCTUnwrap(spool.seal(), "the first segment went to the writer when it filled")
        XCTAssertEqual(sealed.segment, 0)
        XCTAssertEqual(sealed.count, total / 2, "both segments hold the same")
        var kept: [UInt64] = []
        XCTAssertEqual(spool.read(sealed, limit: .max) { kept.append($0.seq) }.count, total / 2)
        XCTAssertEqual(kept, Array(1...UInt64(total / 2)), "nothing in the sealed segment was overwritten")
        XCTAssertNil(spool.append(session(0)))
        XCTAssertEqual(spool.seal()?.segment, 0, "the unreleased segment is offered again, not the newer one")

        spool.release(sealed)
        XCTAssertNotNil(spool.append(session(0)), "room again once SQLite has the sealed records")
        // The full segment went to the writer at once, without waiting for its next batch.
        XCTAssertEqual(spool.seal()?.segment, 1)
        XCTAssertEqual(spool.pending, total / 2 + 1)

        // Through the writer: past the spool, a record is dropped, counted and reported.
        let database = try HistoryDatabase(path: folder.appendingPathComponent("other.sqlite3").path)
        let writer = HistoryWriter(
            database: database, spool: try SessionSpool(creatingAt: folder.appendingPathComponent("other.spool").path, bytes: SessionSpool.minimumBytes),
            logger: logger
        )
        for i in 0..<(total + 10) { writer.sessionOpened(session(i)) }
        XCTAssertEqual(writer.health.queued, total)
        XCTAssertEqual(writer.health.dropped, 10)
    }

    func testTheWriterDrainsTheSpoolIntoTheFileAndFreesIt() async throws {
        let database = try HistoryDatabase(path: dbPath)
        let spool = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
        let writer = HistoryWriter(database: database, spool: spool, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [writer], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // More than one segment holds, so the writer must free segments while appends go on.
            for round in 0..<12 {
                for i in 0..<100 {
                    let info = session(round * 1000 + i)
                    writer.sessionOpened(info)
                    writer.sessionClosed(session(round * 1000 + i, id: info.id, closed: true))
                }
                let written = await writer.waitUntilWritten()
                XCTAssertTrue(written)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        XCTAssertEqual(spool.pending, 0)
        XCTAssertEqual(writer.health.dropped, 0)
        let count = try await database.count()
        XCTAssertEqual(count, 1200)
        let closed = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sessions WHERE state = 'closed'") }
        XCTAssertEqual(closed, 1200)
        XCTAssertEqual(try SessionSpool.recover(at: spoolPath).count, 0, "committed segments no longer validate")
    }

    func testWhileSQLiteRefusesWritesTheSpoolKeepsEverythingAndTheWriterCatchesUp() async throws {
        let database = try HistoryDatabase(path: dbPath)
        // A disk that is full for the sessions table: every insert fails, as SQLITE_FULL would.
        try await database.pool.write { db in
            try db.execute(sql: "CREATE TRIGGER full BEFORE INSERT ON sessions BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
        }
        let spool = try SessionSpool(creatingAt: spoolPath, bytes: 1 << 20)
        let writer = HistoryWriter(database: database, spool: spool, logger: logger)
        var ids: [SessionID] = []
        for i in 0..<500 {
            let info = session(i)
            ids.append(info.id)
            writer.sessionOpened(info)
        }
        let first = await writer.flush()
        XCTAssertFalse(first)
        let problem = writer.health.problem ?? ""
        XCTAssertTrue(problem.hasPrefix("history writes are failing: SQLite error ") && problem.hasSuffix("database or disk is full"), problem)
        XCTAssertFalse(problem.contains("INSERT"), "SQLite's reason, not its statement: \(problem)")
        // Closes arrive while the sealed segment waits; a retry still cannot write.
        for (i, id) in ids.enumerated() { writer.sessionClosed(session(i, id: id, closed: true)) }
        let second = await writer.flush()
        XCTAssertFalse(second)
        XCTAssertEqual(writer.health.queued, 1000)
        XCTAssertEqual(writer.health.dropped, 0)

        try await database.pool.write { db in try db.execute(sql: "DROP TRIGGER full") }
        // The sealed segment (the opens), then the other one (the closes).
        let third = await writer.flush()
        let fourth = await writer.flush()
        XCTAssertTrue(third && fourth)
        XCTAssertNil(writer.health.problem)
        XCTAssertEqual(writer.health.queued, 0)
        let closed = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sessions WHERE state = 'closed'") }
        XCTAssertEqual(closed, 500)
    }

    func testASecondServiceCannotTakeOverALiveSpool() throws {
        let spool = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
        XCTAssertNotNil(spool.append(session(1)))
        XCTAssertThrowsError(try SessionSpool.open(at: spoolPath, bytes: SessionSpool.minimumBytes) { _ in XCTFail("not replayed") }) { error in
            XCTAssertEqual((error as? SessionSpool.Failure)?.kind, .inUse)
        }
        XCTAssertEqual(try SessionSpool.recover(at: spoolPath).count, 1, "the live spool was left as it was")
    }

    func testADeletedHistoryFileIsNoticed() async throws {
        let database = try HistoryDatabase(path: dbPath)
        XCTAssertNil(database.fileProblem())
        let writer = HistoryWriter(database: database, logger: logger)
        let flushed = await writer.flush()
        XCTAssertTrue(flushed)
        XCTAssertNil(writer.health.problem)
        unlink(dbPath)
        unlink(dbPath + "-wal")
        XCTAssertEqual(database.fileProblem(), "the history file was deleted while in use; restart the service to record into a new one")
        // Checked once a second; a writer that just checked waits for the next second.
        let checked = HistoryWriter(database: database, logger: logger)
        checked.sessionOpened(session(1))
        let refused = await checked.flush()
        XCTAssertFalse(refused, "nothing is written into a deleted file")
        XCTAssertEqual(checked.health.queued, 1, "kept, not written into the deleted inode")
        XCTAssertEqual(checked.health.problem, "the history file was deleted while in use; restart the service to record into a new one")
        do {
            try await database.saveListener(ListenerSpec(name: "l", address: .host("127.0.0.1", port: 0), mode: .echo), createdAt: Date())
            XCTFail("a listener stored into a deleted file would be lost")
        } catch {}
    }

    func testADamagedHeaderIsReadAsNoSpoolNotATrap() throws {
        var header = [UInt8](repeating: 0, count: SessionSpool.fileHeaderBytes * 2)
        func put(_ value: UInt64, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { header.replaceSubrange(offset..<offset + 8, with: $0) }
        }
        put(SessionSpool.magic, at: 0)
        put(1, at: 8)
        put(1 << 62, at: 16)  // a segment size whose double overflows
        try Data(header).write(to: URL(fileURLWithPath: spoolPath))
        let recovery = try SessionSpool.recover(at: spoolPath)
        XCTAssertEqual(recovery.count, 0)
    }

    func testAServiceWithoutASpoolNeverRemovesALiveServicesSpool() throws {
        let live = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
        _ = live
        XCTAssertThrowsError(try SessionSpool.replayAndRemove(at: spoolPath) { _ in XCTFail("a live spool is not read") }) { error in
            XCTAssertEqual((error as? SessionSpool.Failure)?.kind, .inUse, "\(error)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: spoolPath))
    }
}
