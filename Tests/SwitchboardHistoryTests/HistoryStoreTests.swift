import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwitchboardCore
@testable import SwitchboardHistory
import SwitchboardHistoryPostgres
import SwitchboardTestSupport
import XCTest

/// What both history stores promise, each test run against the SQLite file and PostgreSQL:
/// the same rows, filters, pages and stats, listeners stored per instance, retention.
final class HistoryStoreTests: HistoryTestCase {
    override class func setUp() { HistoryBackends.startServer() }
    override class func tearDown() { HistoryBackends.stopServer() }

    private func each(instance: String = "test", _ body: (any HistoryStore, @escaping @Sendable (String) async throws -> any HistoryStore) async throws -> Void) async throws {
        try await HistoryBackends.each(instance: instance, in: folder, body)
    }

    private func name(_ store: any HistoryStore) -> String { store is HistoryDatabase ? "SQLite" : "PostgreSQL" }

    private func all(_ store: any HistoryStore, _ filter: HistoryFilter = HistoryFilter()) async throws -> [SessionRecord] {
        var rows: [SessionRecord] = []
        try await store.forEachChunk(filter) { rows += $0 }
        return rows
    }

    private static func closed(_ info: SessionInfo) -> SessionRecord {
        var record = SessionRecord(info)
        record.state = "closed"
        record.closedAt = record.openedAt
        record.closeReason = "peer"
        return record
    }

    func testEveryChurnedSessionIsRecordedWithItsFinalState() async throws {
        try await each { database, _ in
            try await withWriter(database) { writer, switchboard in
                let info = try await switchboard.createListener(ListenerSpec(name: "echo", address: .host("127.0.0.1", port: 0), mode: .echo))
                let port = Int(info.address.split(separator: ":").last!)!
                let total = 1_000
                try await TestConnection.churn(port: port, count: total, workers: 16)
                try await eventually("every session to be closed") { switchboard.counts.openSessions == 0 }
                let written = await writer.waitUntilWritten()
                XCTAssertTrue(written)
                let rows = try await all(database)
                XCTAssertEqual(rows.count, total, name(database))
                XCTAssertTrue(rows.allSatisfy { $0.state == "closed" && $0.closedAt != nil && $0.listener == "echo" && $0.instance == "test" }, name(database))
                XCTAssertEqual(rows.reduce(0) { $0 + $1.bytesIn }, rows.reduce(0) { $0 + $1.bytesOut })
                XCTAssertEqual(Set(rows.map(\.id)).count, total)
                XCTAssertEqual(writer.health.dropped, 0)
            }
        }
    }

    /// Every column comes back as written: distinct values in each (a swapped pair of binds
    /// would show), NULLs, empty strings (not NULL), text that needs quoting, the biggest counts.
    func testEveryColumnComesBackAsWritten() async throws {
        let full = SessionRecord(
            id: "01JF00000000000000000000A1", role: "client", listener: "it's \"quoted\"", name: "ünïcödé name",
            localAddress: "127.0.0.1:1001", remoteAddress: "[::1]:2002", state: "closed",
            openedAt: "2026-12-01T10:00:00.000Z", closedAt: "2026-12-01T10:00:01.500Z", closeReason: "reset",
            bytesIn: SessionRecord.maxBytes, bytesOut: SessionRecord.maxBytes, partnerId: "01JF00000000000000000000B2", capture: true, captureTruncated: true,
            faults: [SessionFaultRecord(name: "slow", type: "latency", direction: "downstream", applied: true, at: "2026-12-01T10:00:00.100Z")],
            instance: "test"
        )
        let sparse = SessionRecord(
            id: "01JF00000000000000000000C3", role: "server", listener: "", name: nil, localAddress: nil, remoteAddress: "",
            state: "open", openedAt: "2026-12-01T11:00:00.000Z", closedAt: nil, closeReason: nil, bytesIn: 0, bytesOut: 0,
            partnerId: nil, capture: false, captureTruncated: false, faults: [], instance: "test"
        )
        XCTAssertEqual(SessionRecord(SessionInfo.sample(bytes: .max)).bytesIn, SessionRecord.maxBytes)
        var twin = full, triplet = full
        twin.id = "01JF00000000000000000000A2"
        triplet.id = "01JF00000000000000000000A3"
        try await each { database, _ in
            try await database.write(sessions: [full, sparse, twin, triplet], messages: [], aliveAt: Date())
            let readFull = try await database.session(id: full.id)
            let readSparse = try await database.session(id: sparse.id)
            XCTAssertEqual(readFull, full, name(database))
            XCTAssertEqual(readSparse, sparse, name(database))
            // Three rows at the largest counts in one group: their sums, past Int64, answer its largest.
            let group = try await database.stats(since: nil, until: nil).first { $0.listener == full.listener }
            XCTAssertEqual(group?.sessions, 3, name(database))
            XCTAssertEqual(group?.bytesIn, .max, name(database))
            XCTAssertEqual(group?.bytesOut, .max, name(database))
        }
    }

    func testASessionIsInTheHistoryWhileOpen() async throws {
        try await each { database, _ in
            try await withWriter(database) { _, switchboard in
                let info = try await switchboard.createListener(ListenerSpec(name: "hold", address: .host("127.0.0.1", port: 0), mode: .hold))
                let peer = try await TestConnection.connect(port: Int(info.address.split(separator: ":").last!)!)
                // Within the batch window, without anybody asking for a flush.
                try await eventually("the open session in \(name(database))", timeout: .seconds(2)) {
                    try await database.page(HistoryFilter(state: .open), limit: 10).sessions.count == 1
                }
                // A reset: a hold session outlives its client's FIN, awaiting an answer.
                await peer.reset()
                try await eventually("its close in \(name(database))", timeout: .seconds(2)) {
                    try await database.page(HistoryFilter(state: .closed), limit: 10).sessions.first?.closeReason == "reset"
                }
            }
        }
    }

    func testListenersAreStoredPerInstanceAndDeletedForGood() async throws {
        try await each { database, open in
            try await withWriter(database) { _, switchboard in
                let info = try await switchboard.createListener(ListenerSpec(name: "kept", address: .host("127.0.0.1", port: 0), mode: .reply(ByteBuffer(string: "hi"), closeAfterReply: true), maxSessions: 3, capture: true, options: ConnectionOptions(nodelay: false)))
                _ = try await switchboard.createListener(ListenerSpec(name: "gone", address: .host("127.0.0.1", port: 0), mode: .echo))
                _ = try await switchboard.deleteListener(named: "gone", closeSessions: true)
                try await database.saveReconnecting(ConnectSpec(endpoint: .host("127.0.0.1", port: 9), name: "plc", send: ByteBuffer(string: "x"), capture: true, reconnect: ReconnectPolicy()), createdAt: Date())
                let saved = try await database.savedListeners()
                XCTAssertEqual(saved.map(\.spec.name), ["kept"], name(database))
                XCTAssertEqual(saved.first?.spec.address.description, info.address, "a port picked by the kernel is kept")
                XCTAssertEqual(saved.first?.spec.mode, .reply(ByteBuffer(string: "hi"), closeAfterReply: true))
                XCTAssertEqual(saved.first?.spec.maxSessions, 3)
                XCTAssertEqual(saved.first?.spec.options.nodelay, false)
                XCTAssertTrue(saved.first?.spec.capture ?? false)
                let reconnecting = try await database.savedReconnecting()
                XCTAssertEqual(reconnecting.map(\.spec.name), ["plc"])
                XCTAssertEqual(reconnecting.first?.spec.send, ByteBuffer(string: "x"))
            }
            guard !(database is HistoryDatabase) else { return }
            // Another instance of the same history has none of them, and restores only its own.
            let other = try await open("other")
            let theirs = try await other.savedListeners()
            XCTAssertEqual(theirs.map(\.spec.name), [], name(database))
            try await other.saveListener(ListenerSpec(name: "kept", address: .host("127.0.0.1", port: 1), mode: .echo), createdAt: Date())
            let mine = try await database.savedListeners()
            XCTAssertEqual(mine.first?.spec.mode, .reply(ByteBuffer(string: "hi"), closeAfterReply: true), "a name is each instance's own")
            await other.close()
        }
    }

    func testCaptureRecordsBothDirectionsUpToItsLimit() async throws {
        try await each { database, _ in
            try await withWriter(database, captureLimit: 10) { writer, switchboard in
                let info = try await switchboard.createListener(ListenerSpec(name: "cap", address: .host("127.0.0.1", port: 0), mode: .echo, capture: true))
                let peer = try await TestConnection.connect(port: Int(info.address.split(separator: ":").last!)!)
                try await peer.send("abcdef")
                try await peer.read(atLeast: 6)
                await peer.close()
                try await eventually("the close") { switchboard.counts.openSessions == 0 }
                let written = await writer.waitUntilWritten()
                XCTAssertTrue(written)
                let session = try await database.page(HistoryFilter(), limit: 1).sessions[0]
                XCTAssertTrue(session.capture)
                XCTAssertTrue(session.captureTruncated, "12 bytes went through a 10-byte cap")
                let messages = try await database.messages(sessionID: session.id)
                XCTAssertEqual(messages.map(\.direction), ["in", "out"], name(database))
                XCTAssertEqual(messages.map { String(decoding: $0.data, as: UTF8.self) }, ["abcdef", "abcd"])
                let fetched = try await database.session(id: session.id)
                XCTAssertEqual(fetched, session)
            }
        }
    }

    func testPagesWalkEveryRowOnceWhileNewSessionsArrive() async throws {
        try await each { database, _ in
            func insert(_ count: Int) async throws -> [String] {
                let records = (0..<count).map { _ in Self.closed(SessionInfo.sample()) }
                try await database.write(sessions: records, messages: [], aliveAt: Date())
                return records.map(\.id)
            }
            let before = try await insert(250)
            var seen: [String] = []
            var cursor: String?
            var arrived: [String] = []
            repeat {
                let page = try await database.page(HistoryFilter(), limit: 40, cursor: cursor)
                seen += page.sessions.map(\.id)
                cursor = page.nextCursor
                arrived += try await insert(7)
            } while cursor != nil
            XCTAssertEqual(seen.count, Set(seen).count, "no row twice")
            XCTAssertEqual(Set(seen), Set(before), "every row that was there, and only those, newest first")
            XCTAssertEqual(seen, seen.sorted(by: >))
            XCTAssertFalse(arrived.isEmpty)
        }
    }

    func testFiltersNarrowAndStatsAddUp() async throws {
        try await each { database, _ in
            var rows: [SessionRecord] = []
            for i in 0..<30 {
                var record = SessionRecord(SessionInfo.sample(listener: i % 3 == 0 ? "a" : "b", remote: "10.0.0.\(i % 5):4000", bytes: UInt64(i)))
                if i % 2 == 0 { record = Self.closed(SessionInfo.sample(listener: i % 3 == 0 ? "a" : "b", remote: "10.0.0.\(i % 5):4000", bytes: UInt64(i))) }
                rows.append(record)
            }
            try await database.write(sessions: rows, messages: [], aliveAt: Date())
            func count(_ filter: HistoryFilter) async throws -> Int { try await all(database, filter).count }
            let a = try await count(HistoryFilter(listener: "a"))
            XCTAssertEqual(a, 10, name(database))
            let open = try await count(HistoryFilter(state: .open))
            XCTAssertEqual(open, 15)
            let closedA = try await count(HistoryFilter(listener: "a", state: .closed))
            XCTAssertEqual(closedA, 5)
            let remote = try await count(HistoryFilter(remote: "10.0.0.3"))
            XCTAssertEqual(remote, 6)
            let percent = try await count(HistoryFilter(remote: "%"))
            XCTAssertEqual(percent, 0, "LIKE wildcards in a prefix are taken literally")
            let big = try await count(HistoryFilter(minBytes: 40))
            XCTAssertEqual(big, 10, "bytes in + out = 2i ≥ 40 for i ≥ 20")
            let mine = try await count(HistoryFilter(instance: "test"))
            XCTAssertEqual(mine, 30)
            let theirs = try await count(HistoryFilter(instance: "other"))
            XCTAssertEqual(theirs, 0)
            let stats = try await database.stats(since: nil, until: nil)
            XCTAssertEqual(stats.reduce(0) { $0 + $1.sessions }, 30)
            XCTAssertEqual(stats.reduce(0) { $0 + $1.bytesIn }, Int64((0..<30).reduce(0, +)))
            XCTAssertEqual(stats.map(\.listener), ["a", "a", "b", "b"])
        }
    }

    func testTimeRangesAreHalfOpenOnOpeningTime() async throws {
        try await each { database, _ in
            let t0 = Date(timeIntervalSince1970: 1_790_000_000)
            let times = [t0, t0.addingTimeInterval(0.001), t0.addingTimeInterval(3600), t0.addingTimeInterval(7200)]
            try await database.write(sessions: times.map { SessionRecord(SessionInfo.sample(openedAt: $0)) }, messages: [], aliveAt: Date())
            func count(_ filter: HistoryFilter) async throws -> Int { try await database.page(filter, limit: 100).sessions.count }
            let fromStart = try await count(HistoryFilter(since: t0))
            XCTAssertEqual(fromStart, 4, name(database))
            let afterFirstMillisecond = try await count(HistoryFilter(since: t0.addingTimeInterval(0.001)))
            XCTAssertEqual(afterFirstMillisecond, 3)
            let untilStart = try await count(HistoryFilter(until: t0))
            XCTAssertEqual(untilStart, 0, "until is exclusive")
            let window = try await count(HistoryFilter(since: t0.addingTimeInterval(1800), until: t0.addingTimeInterval(5400)))
            XCTAssertEqual(window, 1)
            let withListener = try await count(HistoryFilter(listener: "l", state: .open, until: t0.addingTimeInterval(3600)))
            XCTAssertEqual(withListener, 2)
            let stats = try await database.stats(since: t0.addingTimeInterval(1), until: nil)
            XCTAssertEqual(stats.reduce(0) { $0 + $1.sessions }, 2)
            let first = try await database.page(HistoryFilter(), limit: 100).sessions.last
            XCTAssertEqual(first?.openedAt, RFC3339.format(t0), "times read back as they were written, to the millisecond")
        }
    }

    func testRetentionPrunesOldClosedSessionsAndKeepsOpenOnes() async throws {
        try await each { database, _ in
            let old = Date().addingTimeInterval(-10 * 86_400)
            var rows: [SessionRecord] = []
            for i in 0..<1_200 {
                let info = SessionInfo.sample(openedAt: i < 1_100 ? old : Date())
                rows.append(i == 0 ? SessionRecord(info) : Self.closed(info))
            }
            try await database.write(sessions: rows, messages: [], aliveAt: Date())
            let pruned = try await database.prune(RetentionPolicy(days: 7), now: Date(), chunk: 100)
            XCTAssertEqual(pruned, 1_099, "every old closed session, in chunks: \(name(database))")
            let afterDays = try await database.count()
            XCTAssertEqual(afterDays, 101)
            let kept = try await database.prune(RetentionPolicy(sessions: 50))
            XCTAssertEqual(kept, 50)
            let afterCount = try await database.count()
            XCTAssertEqual(afterCount, 51, "the 50 newest and the open one")
        }
    }

    /// A closed row is never reopened, whichever order its records come in, within a batch or
    /// across batches (a replayed spool, a retried segment).
    func testAClosedSessionStaysClosed() async throws {
        try await each { database, _ in
            let info = SessionInfo.sample()
            let closed = Self.closed(info)
            try await database.write(sessions: [closed, SessionRecord(info)], messages: [], aliveAt: Date())
            try await database.write(sessions: [SessionRecord(info)], messages: [], aliveAt: Date())
            let row = try await database.session(id: info.id.rawValue)
            XCTAssertEqual(row?.state, "closed", name(database))
            XCTAssertEqual(row?.closeReason, "peer")
        }
    }

    /// A batch of more records than SQLite's upsert takes at once is written whole and in order
    /// (141 records: two statements of 64, one of 8, five of one): a session opened and closed
    /// within one statement and closed again after (the later close wins), one closed before its
    /// open came, sessions opened in one statement and closed in a later one with bytes of their
    /// own (a value bound to another record's parameter shows), sessions left open.
    func testABatchOfManyStatementsKeepsTheOrderOfItsRecords() async throws {
        let early = SessionInfo.sample(listener: "early"), quick = SessionInfo.sample(listener: "quick")
        let many = (0..<80).map { SessionInfo.sample(listener: "many-\($0)") }
        var reset = Self.closed(quick)
        reset.closeReason = "reset"
        let closes = many.prefix(56).enumerated().map { index, info in
            var record = Self.closed(info)
            record.bytesIn = Int64(index + 1)
            return record
        }
        let batch = [Self.closed(early), SessionRecord(early), SessionRecord(quick), Self.closed(quick), reset]
            + many.map { SessionRecord($0) } + closes
        XCTAssertEqual(batch.count, 141)
        try await each { database, _ in
            try await database.write(sessions: batch, messages: [], aliveAt: Date())
            let rows = Dictionary(uniqueKeysWithValues: try await all(database).map { ($0.listener ?? "", $0) })
            XCTAssertEqual(rows.count, 82, name(database))
            XCTAssertEqual(rows["early"]?.state, "closed", name(database))
            XCTAssertEqual(rows["quick"]?.closeReason, "reset", name(database))
            for (index, info) in many.enumerated() {
                let row = rows[info.listener ?? ""]
                XCTAssertEqual(row?.state, index < 56 ? "closed" : "open", "\(info.listener ?? "") in \(name(database))")
                XCTAssertEqual(row?.bytesIn, index < 56 ? Int64(index + 1) : 0, "\(info.listener ?? "") in \(name(database))")
            }
        }
    }

    /// A session's fault log is kept as written (a later record without one never erases it), and
    /// `fault=` finds the sessions the fault applied to, not those it passed by.
    func testTheFaultFilterFindsTheSessionsAFaultAppliedTo() async throws {
        try await each { database, _ in
            func entry(applied: Bool, at: String) -> SessionFaultRecord {
                SessionFaultRecord(name: "slow", type: "latency", direction: "downstream", applied: applied, at: at)
            }
            let info = SessionInfo.sample()
            var hit = Self.closed(info)
            hit.faults = [entry(applied: true, at: hit.openedAt)]
            var passed = Self.closed(SessionInfo.sample())
            passed.faults = [entry(applied: false, at: passed.openedAt)]
            let plain = Self.closed(SessionInfo.sample())
            try await database.write(sessions: [hit, passed, plain], messages: [], aliveAt: Date())
            try await database.write(sessions: [Self.closed(info)], messages: [], aliveAt: Date())
            let found = try await database.page(HistoryFilter(fault: "slow"), limit: 10).sessions
            XCTAssertEqual(found.map(\.id), [hit.id], name(database))
            XCTAssertEqual(found.first?.faults, hit.faults)
            let none = try await database.page(HistoryFilter(fault: "other"), limit: 10).sessions
            XCTAssertEqual(none.count, 0)
            let plainRow = try await database.session(id: plain.id)
            XCTAssertEqual(plainRow?.faults, [])
        }
    }

    /// After a crash each instance marks only its own open sessions interrupted, closed when
    /// it was last known alive.
    func testEachInstanceMarksOnlyItsOwnOpenSessionsInterrupted() async throws {
        try await each { database, open in
            let alive = Date(timeIntervalSince1970: 1_790_000_000)
            let mine = SessionRecord(SessionInfo.sample(openedAt: alive.addingTimeInterval(-60)))
            try await database.write(sessions: [mine], messages: [], aliveAt: alive)
            var theirs: SessionRecord?
            if !(database is HistoryDatabase) {
                let other = try await open("other")
                let record = SessionRecord(SessionInfo.sample(openedAt: alive.addingTimeInterval(-60)))
                try await other.write(sessions: [record], messages: [], aliveAt: alive)
                theirs = record
                await other.close()
            }
            let marked = try await database.markInterrupted()
            XCTAssertEqual(marked, 1, name(database))
            let row = try await database.session(id: mine.id)
            XCTAssertEqual(row?.state, "interrupted")
            XCTAssertEqual(row?.closedAt, RFC3339.format(alive), "closed when last known alive")
            if let theirs {
                let other = try await database.session(id: theirs.id)
                XCTAssertEqual(other?.state, "open", "another instance's session is its own to mark")
                XCTAssertEqual(other?.instance, "other")
            }
        }
    }

    /// A second service for the same instance is refused, naming the one that holds it; the
    /// SQLite file refuses any second service.
    func testASecondServiceOfTheSameInstanceIsRefusedNamingTheHolder() async throws {
        try await each(instance: "held") { database, open in
            do {
                let second = try await open("held")
                await second.close()
                XCTFail("\(name(database)): a second store for a held instance")
            } catch let error as StoreHeld {
                XCTAssertTrue(error.description.contains("instance 'held'"), error.description)
                XCTAssertTrue(error.description.contains("pid \(getpid())"), error.description)
            }
            await database.close()
            let again = try await open("held")
            await again.close()
        }
    }
}
