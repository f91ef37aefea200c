import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardHistory
import SwitchboardHistoryPostgres

// history-bench [ROWS] [--no-spool] [--postgres URL]: how fast the history records sessions,
// and how fast a filtered first page comes back from a large history. A benchmark, not a test:
// it prints figures. The writer goes through the session spool as the service's does;
// --no-spool measures the memory-only writer, for the spool's cost. --postgres URL measures
// the PostgreSQL store instead of a SQLite file (an empty database: bench/history makes one).

let arguments = Array(CommandLine.arguments.dropFirst())
let postgres = arguments.firstIndex(of: "--postgres").map { arguments[$0 + 1] }
let rows = arguments.first(where: { !$0.hasPrefix("--") && $0 != postgres }).flatMap(Int.init) ?? 1_000_000
let useSpool = !arguments.contains("--no-spool")
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("history-bench-\(UUID().uuidString.prefix(8))")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }
var logger = Logger(label: "history-bench")
logger.logLevel = .warning
let database: any HistoryStore
if let postgres {
    database = try await PostgresHistory.open(
        try PostgresURL(parsing: postgres), password: ProcessInfo.processInfo.environment["PGPASSWORD"], instance: "bench", logger: logger
    )
} else {
    database = try HistoryDatabase(path: folder.appendingPathComponent("history.sqlite3").path, instance: "bench")
}
print("backend: \(postgres == nil ? "SQLite" : "PostgreSQL")")

func session(_ i: Int, at date: Date, closed: Bool) -> SessionInfo {
    SessionInfo(
        id: .make(at: date), role: i % 4 == 0 ? .client : .server,
        listener: i % 4 == 0 ? nil : (i % 10_007 == 1 ? "rare" : "listener-\(i % 20)"),
        name: i % 4 == 0 ? "device-\(i % 50)" : nil, localAddress: "127.0.0.1:9000", remoteAddress: "10.\(i % 7).\(i % 250).\(i % 200):\(40_000 + i % 20_000)",
        state: closed ? .closed : .open, openedAt: date, closedAt: closed ? date.addingTimeInterval(0.05) : nil,
        closeReason: closed ? .peer : nil, bytesIn: UInt64(i % 5_000), bytesOut: UInt64(i % 3_000), capture: false, captureTruncated: false
    )
}

// 1. The writer, as the service uses it: each session opened then closed, through the observer calls.
let spool = useSpool ? try SessionSpool(creatingAt: folder.appendingPathComponent("history.sqlite3.spool").path) : nil
let writer = HistoryWriter(database: database, spool: spool, logger: logger)
let group = ServiceGroup(configuration: .init(services: [writer], logger: logger))
let writerSessions = 200_000
let started = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    let base = Date()
    for i in 0..<writerSessions {
        let info = session(i, at: base, closed: false)
        writer.sessionOpened(info)
        writer.sessionClosed(SessionInfo(
            id: info.id, role: info.role, listener: info.listener, name: info.name, localAddress: info.localAddress,
            remoteAddress: info.remoteAddress, state: .closed, openedAt: info.openedAt, closedAt: base, closeReason: .peer,
            bytesIn: 10, bytesOut: 10, capture: false, captureTruncated: false
        ))
        if i % 50_000 == 49_999 { _ = await writer.waitUntilWritten(timeout: .seconds(60)) }
    }
    _ = await writer.waitUntilWritten(timeout: .seconds(120))
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
}
let writerTime = ContinuousClock.now - started
let writerRate = Double(writerSessions) / writerTime.inSeconds
print(String(format: "writer (\(useSpool ? "spool" : "memory only")): %d sessions (open + close records) in %.2f s = %.0f sessions/s (dropped %d)",
             writerSessions, writerTime.inSeconds, writerRate, writer.health.dropped))

// 2. Fill to `rows` sessions, spread over 30 days, then time first pages of filtered queries.
let fillWriter = HistoryWriter(database: database, logger: logger)
let fillGroup = ServiceGroup(configuration: .init(services: [fillWriter], logger: logger))
try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await fillGroup.run() }
    let start = Date().addingTimeInterval(-30 * 86_400)
    let remaining = max(0, rows - writerSessions)
    for i in 0..<remaining {
        fillWriter.sessionClosed(session(i, at: start.addingTimeInterval(Double(i) * 30 * 86_400 / Double(max(remaining, 1))), closed: true))
        if i % 100_000 == 99_999 { _ = await fillWriter.waitUntilWritten(timeout: .seconds(120)) }
    }
    _ = await fillWriter.waitUntilWritten(timeout: .seconds(120))
    await fillGroup.triggerGracefulShutdown()
    try await tasks.waitForAll()
}
let total = try await database.count()
// What autovacuum would have done by now in a service that wrote these rows over 30 days.
try await (database as? PostgresHistory)?.analyze()

func timeQuery(_ name: String, _ filter: HistoryFilter) async throws -> (String, Double, Double, Int) {
    var times: [Double] = []
    var found = 0
    for _ in 0..<51 {
        let t0 = ContinuousClock.now
        found = try await database.page(filter, limit: 100).sessions.count
        let t = ContinuousClock.now - t0
        times.append(t.inSeconds * 1000)
    }
    times.sort()
    return (name, times[25], times[49], found)
}

let weekAgo = Date().addingTimeInterval(-7 * 86_400)
let queries: [(String, HistoryFilter)] = [
    ("no filter", HistoryFilter()),
    ("listener", HistoryFilter(listener: "listener-7")),
    // Names are on every fourth row (i % 4 == 0), so i % 50 is even there.
    ("name + state", HistoryFilter(name: "device-4", state: .closed)),
    ("remote prefix", HistoryFilter(remote: "10.3.")),
    ("since + role", HistoryFilter(role: .server, since: weekAgo)),
    ("min_bytes", HistoryFilter(minBytes: 7_000)),
    ("listener + week", HistoryFilter(listener: "listener-3", since: weekAgo)),
    ("last hour", HistoryFilter(since: Date().addingTimeInterval(-3600))),
    ("rare listener", HistoryFilter(listener: "rare")),
    ("min_bytes, many", HistoryFilter(minBytes: 1_000)),
    ("instance", HistoryFilter(instance: "bench")),
]
print("first page (limit 100) over \(total) sessions:")
print("query".padding(toLength: 16, withPad: " ", startingAt: 0) + "  p50 ms   p98 ms   rows")
for (name, filter) in queries {
    let (label, p50, p98, found) = try await timeQuery(name, filter)
    print(label.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "  %6.2f   %6.2f   %4d", p50, p98, found))
}
await database.close()
