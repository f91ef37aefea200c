import Foundation
import SwitchboardTestSupport
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
            await peer.close()
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

    private func chattr(_ flag: String, _ files: [String]) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["chattr", flag] + files
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
