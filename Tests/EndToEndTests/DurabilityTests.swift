import Foundation
import SwitchboardTestSupport
import Synchronization
import XCTest

/// The history's promises, kept by the real binary: nothing that opened is lost, whatever way
/// the process ends, and a full disk does not stop the sockets.
final class DurabilityTests: XCTestCase {
    private func port(of listener: HTTPResult) -> Int {
        Int((listener["address"] as! String).split(separator: ":").last!)!
    }

    /// Every session in the file, through the CLI, as an operator would read it.
    private func historyRows(_ file: String) async throws -> [[String: Any]] {
        let (status, output) = try await runSwitchboard(["history", "--db", file, "--format", "ndjson"])
        XCTAssertEqual(status, 0, output)
        return try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    func testSIGKILLLosesNoSessionAndTheListenerComesBack() async throws {
        let first = try await ServiceProcess.start()
        let created = try await first.api.post("/v1/listeners", json: #"{"name":"held","address":"127.0.0.1:0","mode":"hold"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let port = port(of: created)
        // Some sessions that came and went, then 20 held open.
        for _ in 0..<5 {
            let peer = try await TestConnection.connect(port: port)
            // A reset: a hold session outlives its client's FIN, awaiting an answer.
            await peer.reset()
        }
        var held: [TestConnection] = []
        for _ in 0..<20 { held.append(try await TestConnection.connect(port: port)) }
        try await eventually("25 sessions in the history, 20 open") {
            let open = try await first.api.get("/v1/history?state=open")["sessions"] as? [Any]
            let all = try await first.api.get("/v1/history")["sessions"] as? [Any]
            return open?.count == 20 && all?.count == 25
        }

        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        for peer in held { await peer.close() }

        let second = try await ServiceProcess.start(in: first.directory)
        defer { Task { await second.stop() } }
        let rows = try await historyRows(second.historyFile)
        XCTAssertEqual(rows.count, 25, "every session that opened is in the history")
        XCTAssertEqual(rows.filter { $0["state"] as? String == "interrupted" }.count, 20, "exactly the held ones are interrupted")
        XCTAssertEqual(rows.filter { $0["state"] as? String == "closed" }.count, 5)
        XCTAssertTrue(rows.allSatisfy { $0["closed_at"] is String }, "an interrupted session closed when the service was last alive")

        let listener = try await second.api.get("/v1/listeners/held")
        XCTAssertEqual(listener.status, 200, listener.text)
        XCTAssertEqual(listener["state"] as? String, "listening")
        XCTAssertEqual(self.port(of: listener), port, "back on the same address")
        let again = try await TestConnection.connect(port: port)
        try await eventually("the restored listener to accept") {
            let open = try await second.api.get("/v1/sessions?listener=held&state=open")
            return (open["sessions"] as? [Any])?.count == 1
        }
        await again.close()
        let ready = try await second.api.get("/readyz")
        XCTAssertEqual(ready.status, 200, ready.text)

        // Deleting it deletes it for good.
        let deleted = try await second.api.delete("/v1/listeners/held")
        XCTAssertEqual(deleted.status, 200)
        second.signal(SIGTERM)
        _ = try await second.waitForExit()
        let third = try await ServiceProcess.start(in: first.directory)
        defer { Task { await third.stop() } }
        let gone = try await third.api.get("/v1/listeners/held")
        XCTAssertEqual(gone.status, 404)
    }

    /// 64 clients churn on an echo listener (connect, send, read the echo back, close) and the
    /// service is killed with SIGKILL in the middle of it. A session a client completed (its
    /// echo came back whole, so the service had accepted and recorded it) must be in the
    /// history after a restart on the same file.
    ///
    /// Counted by port: each client notes its connection's local port once the echo is back;
    /// the history's `remote_address` of the listener's sessions carries the same port. Ports
    /// can be reused over a run, so the check compares counts per port: for no port may the
    /// clients have completed more sessions than the history has.
    func testSIGKILLMidChurnLosesNoSessionAClientCompleted() async throws {
        let (completed, rows, log) = try await churnThenKill(extra: [])
        var recorded: [Int: Int] = [:]
        for row in rows where row["listener"] as? String == "churn" {
            if let port = (row["remote_address"] as? String)?.split(separator: ":").last.flatMap({ Int($0) }) { recorded[port, default: 0] += 1 }
        }
        var made: [Int: Int] = [:]
        for port in completed { made[port, default: 0] += 1 }
        let missing = made.reduce(0) { $0 + max(0, $1.value - recorded[$1.key, default: 0]) }
        XCTAssertGreaterThan(completed.count, 2_000)
        XCTAssertEqual(missing, 0, "of \(completed.count) sessions the clients completed, \(missing) are not in the history (\(rows.count) rows)\n\(log)")
        XCTAssertTrue(log.contains("sessions recovered from the spool"), log)
    }

    /// Runs the churn, kills the service once `threshold` sessions completed, restarts it on
    /// the same file and returns the ports of the completed sessions and the history's rows.
    private func churnThenKill(extra: [String], clients: Int = 64, threshold: Int = 3_000) async throws -> (completed: [Int], rows: [[String: Any]], log: String) {
        raiseOpenFileLimit()
        let first = try await ServiceProcess.start(extra)
        let created = try await first.api.post("/v1/listeners", json: #"{"name":"churn","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let churn = Churn(port: port(of: created), clients: clients)
        try await eventually("\(threshold) sessions completed (have \(churn.count))", timeout: .seconds(60)) { churn.count >= threshold }
        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        churn.stop()
        try await eventually("the clients to stop", timeout: .seconds(30)) { churn.stopped }
        let second = try await ServiceProcess.start(extra, in: first.directory)
        defer { Task { await second.stop() } }
        let ready = try await second.api.get("/readyz")
        XCTAssertEqual(ready.status, 200, ready.text)
        let rows = try await historyRows(second.historyFile)
        return (churn.completed, rows, second.output)
    }

    /// The history file and its WAL unlinked under the running service: `/readyz` says so,
    /// new listeners are refused rather than stored into a file nobody will open again, and
    /// the sessions meanwhile wait in the spool for the file the next start creates.
    func testADeletedHistoryFileIsReportedAndItsSessionsKeptForTheNextStart() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
        let port = port(of: created)
        let before = try await service.api.get("/readyz")
        XCTAssertEqual(before.status, 200, before.text)
        XCTAssertEqual(unlink(service.historyFile), 0)
        XCTAssertEqual(unlink(service.historyFile + "-wal"), 0)
        try await eventually("/readyz to report the deleted file") { (try await service.api.get("/readyz")).status == 503 }
        let ready = try await service.api.get("/readyz")
        XCTAssertEqual(ready.errorCode, "not_ready")
        XCTAssertTrue(ready.text.contains("the history file was deleted"), ready.text)
        XCTAssertFalse(ready.text.contains("INSERT"), ready.text)
        // /readyz asks the store itself; the writer notices on its next once-a-second check.
        try await eventually("the writer to log the deleted file") { service.output.contains("critical the history file was deleted") }
        let refused = try await service.api.post("/v1/listeners", json: #"{"name":"later","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertEqual(refused.errorCode, "storage_unavailable")

        for _ in 0..<10 {
            let peer = try await TestConnection.connect(port: port)
            try await peer.send("ping")
            try await peer.read(atLeast: 4)
            await peer.close()
        }
        try await eventually("the 10 sessions closed") { (try await service.api.get("/v1/info"))["open_sessions"] as? Int == 0 }
        service.signal(SIGTERM)
        _ = try await service.waitForExit()
        let second = try await ServiceProcess.start(in: service.directory)
        defer { Task { await second.stop() } }
        let rows = try await historyRows(second.historyFile)
        XCTAssertEqual(rows.filter { $0["listener"] as? String == "echo" && $0["state"] as? String == "closed" }.count, 10, "\(rows)")
    }

    func testSIGTERMRecordsEverySessionClosed() async throws {
        raiseOpenFileLimit()
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"held","address":"127.0.0.1:0","mode":"hold"}"#)
        var peers: [TestConnection] = []
        for _ in 0..<1000 { peers.append(try await TestConnection.connect(port: port(of: created))) }
        try await eventually("1000 open sessions") { (try await service.api.get("/v1/info"))["open_sessions"] as? Int == 1000 }
        service.signal(SIGTERM)
        let status = try await service.waitForExit()
        XCTAssertEqual(status, 0, service.output)
        let rows = try await historyRows(service.historyFile)
        XCTAssertEqual(rows.count, 1000)
        XCTAssertTrue(rows.allSatisfy { $0["state"] as? String == "closed" && $0["close_reason"] as? String == "local" }, "\(rows.first ?? [:])")
    }

    func testAFullDiskKeepsTheSocketsServingAndLosesNothingOnceThereIsRoom() async throws {
        // The history file may not grow past 400 KiB: the disk is "full" after a few hundred captured sessions.
        let service = try await ServiceProcess.start(fileSizeLimitKB: 400)
        defer { Task { await service.stop() } }
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo","capture":true}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let port = port(of: created)
        let payload = String(repeating: "x", count: 4_000)
        var made = 0
        var sawNotReady = false
        while made < 400 {
            let peer = try await TestConnection.connect(port: port)
            try await peer.send(payload)
            try await peer.read(atLeast: payload.utf8.count)
            await peer.close()
            made += 1
            if made % 20 == 0, (try await service.api.get("/readyz")).status == 503 {
                sawNotReady = true
                break
            }
        }
        XCTAssertTrue(sawNotReady, "writes fail past the limit and /readyz says so")
        let ready = try await service.api.get("/readyz")
        XCTAssertEqual(ready.errorCode, "not_ready")
        XCTAssertTrue(ready.text.contains("history"), ready.text)

        // Still serving: an echo round trip and the API.
        let peer = try await TestConnection.connect(port: port)
        try await peer.send("still here")
        let echoed = try await peer.read(atLeast: 10)
        XCTAssertEqual(String(decoding: echoed, as: UTF8.self), "still here")
        await peer.close()
        made += 1
        let health = try await service.api.get("/healthz")
        XCTAssertEqual(health.status, 200)

        // Room again: the queued records are written and nothing was lost.
        let lift = Process()
        lift.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        lift.arguments = ["--pid", String(service.process.processIdentifier), "--fsize=unlimited"]
        try lift.run()
        lift.waitUntilExit()
        try await eventually("the writer to recover", timeout: .seconds(30)) {
            (try await service.api.get("/readyz")).status == 200
        }
        try await eventually("every session in the history", timeout: .seconds(10)) {
            let info = try await service.api.get("/v1/info")
            return ((info["history"] as? [String: Any])?["queued"] as? Int) == 0
        }
        let info = try await service.api.get("/v1/info")
        XCTAssertEqual((info["history"] as? [String: Any])?["dropped"] as? Int, 0)
        service.signal(SIGTERM)
        _ = try await service.waitForExit()
        let rows = try await historyRows(service.historyFile)
        XCTAssertEqual(rows.count, made)
    }

    /// Root ignores file modes, so the file is made read-only the way root cannot ignore: the
    /// immutable attribute (chattr +i), which fails every write, also through open descriptors.
    func testAReadOnlyHistoryFileLeavesTheServiceServing() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
        let port = port(of: created)
        let files = [service.historyFile, service.historyFile + "-wal"]
        guard try chattr("+i", files) else { throw XCTSkip("chattr +i is not supported on this file system") }
        var made = 0
        do {
            defer { _ = try? chattr("-i", files) }
            try await eventually("/readyz to report the failing writes") {
                let peer = try await TestConnection.connect(port: port)
                try await peer.send("ping")
                try await peer.read(atLeast: 4)
                await peer.close()
                made += 1
                return (try await service.api.get("/readyz")).status == 503
            }
            let info = try await service.api.get("/v1/info")
            XCTAssertNotNil((info["history"] as? [String: Any])?["problem"] as? String, info.text)
            // Creating a listener must be durable, so it is refused while the file is read-only.
            let refused = try await service.api.post("/v1/listeners", json: #"{"name":"later","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(refused.status, 503, refused.text)
            XCTAssertEqual(refused.errorCode, "storage_unavailable")
            let listed = try await service.api.get("/v1/listeners/later")
            XCTAssertEqual(listed.status, 404, "a listener that could not be stored is not left running")
        }
        _ = try chattr("-i", files)
        try await eventually("the writer to recover", timeout: .seconds(30)) { (try await service.api.get("/readyz")).status == 200 }
        service.signal(SIGTERM)
        _ = try await service.waitForExit()
        let rows = try await historyRows(service.historyFile)
        XCTAssertEqual(rows.count, made, "nothing was lost while the file was read-only")
    }
}

/// Clients on threads of their own, with blocking sockets: as many sessions a second as the
/// service can take, and no event loop of the test's to compete with the service's.
private final class Churn: Sendable {
    private let state = Mutex<(ports: [Int], stopped: Int)>(([], 0))
    private let stopping = Atomic<Bool>(false)
    private let clients: Int

    init(port: Int, clients: Int) {
        self.clients = clients
        for client in 0..<clients {
            Thread.detachNewThread { [self] in
                run(port: port, message: Array("churn \(client)\n".utf8))
                state.withLock { $0.stopped += 1 }
            }
        }
    }

    var count: Int { state.withLock { $0.ports.count } }
    var completed: [Int] { state.withLock { $0.ports } }
    var stopped: Bool { state.withLock { $0.stopped == clients } }
    func stop() { stopping.store(true, ordering: .relaxed) }

    private func run(port: Int, message: [UInt8]) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var buffer = [UInt8](repeating: 0, count: 256)
        while !stopping.load(ordering: .relaxed) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return }
            defer { close(fd) }
            // A service killed mid-read must not leave a client waiting for ever.
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            // Refused: the service is gone; the run is over for this client.
            guard connected == 0 else { return }
            var local = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            guard send(fd, message, message.count, Int32(MSG_NOSIGNAL)) == message.count else { continue }
            var received = 0
            while received < message.count {
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n > 0 else { break }
                received += n
            }
            if received == message.count {
                let port = Int(UInt16(bigEndian: local.sin_port))
                state.withLock { $0.ports.append(port) }
            }
        }
    }
}
