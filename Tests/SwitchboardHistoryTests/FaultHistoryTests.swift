import Foundation
import GRDB
import Logging
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
@testable import SwitchboardHistory
import XCTest

/// Faults in the file: stored with their listener or reconnecting session and read back (what
/// this build cannot carry out as the entry's problem), and each session's log of draws through
/// the spool into its row, where the fault filter finds it.
final class FaultHistoryTests: HistoryTestCase {
    private let latency = Fault(name: "slow", type: .latency, attributes: ["latency": 100, "jitter": 5])
    private let cut = Fault(name: "cut", type: .limitData, direction: .upstream, toxicity: 0.5, attributes: ["bytes": 1000])

    func testFaultsAreStoredWithTheirListenerAndReconnectingSessionAndComeBack() async throws {
        let database = try HistoryDatabase(path: dbPath)
        let switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, store: database)
        _ = try await switchboard.createListener(ListenerSpec(name: "front", address: .host("127.0.0.1", port: 0), mode: .echo, faults: [latency]))
        XCTAssertEqual(try database.savedListeners().first?.spec.faults, [latency], "created with it, stored with it")
        try await switchboard.addFault(cut, to: .listener("front"))
        try await switchboard.changeFault(named: "slow", on: .listener("front")) { $0.attributes["jitter"] = 9 }
        var changed = latency
        changed.attributes["jitter"] = 9
        let saved = try database.savedListeners()
        XCTAssertEqual(saved.first?.spec.faults, [changed, cut], "in the order added, as changed")
        XCTAssertNil(saved.first?.problem)

        // Port 9 (discard) refuses: the session waits, but exists and is stored.
        let spec = ConnectSpec(endpoint: .host("127.0.0.1", port: 9), name: "plc", reconnect: ReconnectPolicy(initial: .seconds(60), max: .seconds(60)), faults: [cut])
        _ = try await switchboard.startReconnecting(spec)
        XCTAssertEqual(try database.savedReconnecting().first?.spec.faults, [cut])
        try await switchboard.removeFault(named: "cut", from: .reconnecting("plc"))
        XCTAssertEqual(try database.savedReconnecting().first?.spec.faults, [])
        let column = try await database.pool.read { db in try String?.fetchOne(db, sql: "SELECT faults FROM reconnecting_sessions") }
        XCTAssertEqual(column ?? nil, nil, "no faults: NULL, not an empty array")
        await switchboard.shutdown()
    }

    func testAStoredFaultThisBuildCannotCarryOutIsTheEntrysProblem() async throws {
        let database = try HistoryDatabase(path: dbPath)
        let switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, store: database)
        _ = try await switchboard.createListener(ListenerSpec(name: "odd", address: .host("127.0.0.1", port: 0), mode: .echo, faults: [latency]))
        _ = try await switchboard.createListener(ListenerSpec(name: "wide", address: .host("127.0.0.1", port: 0), mode: .echo))
        _ = try await switchboard.createListener(ListenerSpec(name: "junk", address: .host("127.0.0.1", port: 0), mode: .echo))
        _ = try await switchboard.startReconnecting(ConnectSpec(endpoint: .host("127.0.0.1", port: 9), name: "plc", reconnect: ReconnectPolicy(initial: .seconds(60), max: .seconds(60))))
        await switchboard.shutdown()
        // As a later (or broken) build might have written them.
        try await database.pool.write { db in
            try db.execute(sql: #"UPDATE listeners SET faults = '[{"name":"slow","type":"latency","direction":"downstream","toxicity":1,"attributes":{}},{"name":"beam","type":"teleport","direction":"downstream","toxicity":1,"attributes":{}}]' WHERE name = 'odd'"#)
            try db.execute(sql: #"UPDATE listeners SET faults = '[{"name":"wide","type":"latency","direction":"downstream","toxicity":1,"attributes":{"latency":-3}}]' WHERE name = 'wide'"#)
            try db.execute(sql: #"UPDATE listeners SET faults = '[17]' WHERE name = 'junk'"#)
            try db.execute(sql: #"UPDATE reconnecting_sessions SET faults = '[{"name":"x","type":"latency","direction":"sideways","toxicity":1,"attributes":{}}]'"#)
        }
        let saved = Dictionary(uniqueKeysWithValues: try database.savedListeners().map { ($0.spec.name, $0) })
        XCTAssertTrue(saved["odd"]?.problem?.contains("'beam'") == true && saved["odd"]?.problem?.contains("teleport") == true, "\(String(describing: saved["odd"]?.problem))")
        XCTAssertEqual(saved["odd"]?.spec.faults.map(\.name), ["slow"], "the ones it understands are still shown")
        XCTAssertTrue(saved["wide"]?.problem?.contains("attributes.latency") == true, "\(String(describing: saved["wide"]?.problem))")
        XCTAssertTrue(saved["junk"]?.problem?.contains("cannot be read") == true, "\(String(describing: saved["junk"]?.problem))")
        let reconnecting = try XCTUnwrap(try database.savedReconnecting().first)
        XCTAssertTrue(reconnecting.problem?.contains("sideways") == true, "\(String(describing: reconnecting.problem))")

        // Restored failed (listeners) and stopped (the session), with the reason, not without the fault.
        let restarted = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, store: database)
        let result = await restarted.restoreListeners(Array(saved.values))
        XCTAssertEqual(result.failed, 3)
        XCTAssertEqual(try restarted.listener(named: "odd").state, .failed)
        XCTAssertTrue(try restarted.listener(named: "odd").error?.contains("teleport") == true)
        _ = await restarted.restoreReconnecting([reconnecting])
        let status = try XCTUnwrap(restarted.reconnecting(named: "plc").first)
        XCTAssertEqual(status.state, .stopped)
        XCTAssertTrue(status.lastError?.contains("sideways") == true, "\(String(describing: status.lastError))")
        // A failed listener's faults cannot change: its row stays as it was.
        do {
            try await restarted.addFault(cut, to: .listener("odd"))
            XCTFail("a fault was added to a listener that could not be restored")
        } catch {
            XCTAssertEqual(error.kind, .invalidArgument)
        }
        let row = try await database.pool.read { db in try String.fetchOne(db, sql: "SELECT faults FROM listeners WHERE name = 'odd'") }
        XCTAssertTrue(row?.contains("teleport") == true)
        await restarted.shutdown()
    }

    private func session(_ id: SessionID, closed: Bool, log: [SessionFault], listener: String = "front") -> SessionInfo {
        let opened = Date(timeIntervalSince1970: 1_800_000_000)
        return SessionInfo(
            id: id, role: .server, listener: listener, name: nil, localAddress: "127.0.0.1:9000", remoteAddress: "127.0.0.1:40000",
            state: closed ? .closed : .open, openedAt: opened, closedAt: closed ? opened.addingTimeInterval(1) : nil,
            closeReason: closed ? .fault("limit_data") : nil, bytesIn: 1000, bytesOut: 0, capture: false, captureTruncated: false, faults: log
        )
    }

    private func draw(_ fault: Fault, applied: Bool, at offset: Double) -> SessionFault {
        SessionFault(name: fault.name, type: fault.type, direction: fault.direction, applied: applied, at: Date(timeIntervalSince1970: 1_800_000_000 + offset))
    }

    /// The service's writer, through the spool, for the length of `body`.
    private func withSpooledWriter(_ body: (HistoryWriter, HistoryDatabase) async throws -> Void) async throws {
        let database = try HistoryDatabase(path: dbPath)
        let spool = try SessionSpool(creatingAt: spoolPath, bytes: SessionSpool.minimumBytes)
        let writer = HistoryWriter(database: database, spool: spool, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [writer], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await body(writer, database)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func testASessionsFaultLogReachesItsRowAndTheFaultFilterFindsIt() async throws {
        try await withSpooledWriter { writer, database in
            let hit = SessionID.make()
            let opened = [draw(latency, applied: true, at: 0), draw(cut, applied: false, at: 0)]
            writer.sessionOpened(session(hit, closed: false, log: opened))
            // Changed while open: drawn again, and this time it applies.
            writer.sessionClosed(session(hit, closed: true, log: opened + [draw(cut, applied: true, at: 0.5)]))
            let missed = SessionID.make()
            writer.sessionClosed(session(missed, closed: true, log: [draw(latency, applied: false, at: 0)]))
            let untouched = SessionID.make()
            writer.sessionClosed(session(untouched, closed: true, log: []))
            let written = await writer.waitUntilWritten()
            XCTAssertTrue(written)

            let row = try await database.session(id: hit.rawValue)
            XCTAssertEqual(row?.faults.map(\.name), ["slow", "cut", "cut"])
            XCTAssertEqual(row?.faults.map(\.applied), [true, false, true])
            XCTAssertEqual(row?.faults.last?.at, "2027-01-15T08:00:00.500Z")
            XCTAssertEqual(row?.faults.first?.direction, "downstream")
            XCTAssertEqual(row?.faults[1].direction, "upstream")
            XCTAssertEqual(row, SessionRecord(session(hit, closed: true, log: opened + [draw(cut, applied: true, at: 0.5)]), instance: database.instance), "the spool carries the log as it was")
            let none = try await database.pool.read { db in try String?.fetchOne(db, sql: "SELECT faults FROM sessions WHERE id = ?", arguments: [untouched.rawValue]) }
            XCTAssertEqual(none ?? nil, nil, "no fault met it: NULL")

            let slow = try await database.page(HistoryFilter(fault: "slow"), limit: 10).sessions.map(\.id)
            XCTAssertEqual(slow, [hit.rawValue], "applied to one; the other session met it and was passed by")
            let cutFound = try await database.page(HistoryFilter(fault: "cut"), limit: 10).sessions.map(\.id)
            XCTAssertEqual(cutFound, [hit.rawValue], "applied at the second draw")
            let elsewhere = try await database.page(HistoryFilter(listener: "other", fault: "slow"), limit: 10).sessions
            XCTAssertEqual(elsewhere.count, 0)
            let plan = try await database.pool.read { db in
                let (whereClause, arguments) = HistoryFilter(fault: "slow").sql(before: nil)
                return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM sessions \(whereClause) ORDER BY id DESC LIMIT 101", arguments: arguments)
                    .map { $0["detail"] as String }.joined(separator: "; ")
            }
            XCTAssertTrue(plan.contains("sessions_with_faults"), "the fault filter walks only the sessions a fault met: \(plan)")
        }
    }

    func testALogLongerThanTheSpoolHoldsReachesTheFileWhole() async throws {
        let log = (0..<200).map { draw(Fault(name: "fault-number-\($0)", type: .latency), applied: $0 % 2 == 0, at: Double($0)) }
        let id = SessionID.make()
        try await withSpooledWriter { writer, database in
            writer.sessionClosed(session(id, closed: true, log: log))
            let written = await writer.waitUntilWritten()
            XCTAssertTrue(written)
            let row = try await database.session(id: id.rawValue)
            XCTAssertEqual(row?.faults.count, 200, "all of it, past the spool's budget")
            XCTAssertEqual(row?.faults.last?.name, "fault-number-199")
        }
        // As a SIGKILL leaves it: the spool alone keeps whole entries up to its budget.
        let spool = try SessionSpool(creatingAt: folder.appendingPathComponent("other.spool").path, bytes: SessionSpool.minimumBytes)
        let text = SpoolFaults.text(log)
        XCTAssertFalse(text.complete)
        XCTAssertNotNil(spool.append(session(id, closed: true, log: log), faults: text.text))
        let recovered = try XCTUnwrap(try SessionSpool.recover(at: folder.appendingPathComponent("other.spool").path).records.first)
        let kept = recovered.session.faults
        XCTAssertGreaterThan(kept.count, 50)
        XCTAssertLessThan(kept.count, 200)
        XCTAssertEqual(kept, Array(SessionRecord(session(id, closed: true, log: log)).faults.prefix(kept.count)), "whole entries, in order")
    }

    /// A record written before the spool carried fault logs: seven strings, then the padding.
    func testASpoolRecordFromBeforeFaultLogsReadsWithNone() throws {
        for length in 1...8 {
            let info = session(.make(), closed: true, log: [], listener: String(repeating: "l", count: length))
            let reason = info.closeReason?.description
            var sevenEnd = SpoolFormat.stringsOffset
            for string in [info.id.rawValue, info.listener, info.name, info.localAddress, info.remoteAddress, reason, info.partnerID?.rawValue] {
                sevenEnd += 2 + (string?.utf8.count ?? 0)
            }
            let oldLength = (sevenEnd + 7) & ~7
            var bytes = [UInt8](repeating: 0xAA, count: 1024)
            let record = bytes.withUnsafeMutableBytes { buffer -> SpoolRecord? in
                let p = buffer.baseAddress!
                SpoolFormat.write(info, closeReason: reason, seq: 3, length: SpoolFormat.length(info, closeReason: reason), epoch: 1, salt: 7, to: p)
                (p + sevenEnd).initializeMemory(as: UInt8.self, repeating: 0, count: oldLength - sevenEnd)
                let check = SpoolFormat.check(UnsafeRawPointer(p), length: oldLength, epoch: 1, salt: 7)
                p.storeBytes(of: (UInt64(oldLength) | UInt64(check) << 32).littleEndian, as: UInt64.self)
                return SpoolFormat.read(UnsafeRawPointer(p), available: 1024, epoch: 1, salt: 7).map(\.0)
            }
            XCTAssertEqual(record?.session, SessionRecord(info), "listener of \(length): an old record reads as it was, with no log")
        }
    }
}
