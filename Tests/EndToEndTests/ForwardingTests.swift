import Foundation
import SwitchboardTestSupport
import XCTest

/// Forward listeners and reconnecting sessions on the real binary, with iperf3 as the peer.
final class ForwardingTests: XCTestCase {
    private func port(of result: HTTPResult) -> Int {
        Int((result["address"] as! String).split(separator: ":").last!)!
    }

    private func sessions(_ service: ServiceProcess, _ query: String) async throws -> [[String: Any]] {
        try await service.api.get("/v1/history?\(query)")["sessions"] as? [[String: Any]] ?? []
    }

    func testIperf3ThroughAForwardListenerCompletesAndBothHalvesAreRecorded() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let (iperfPort, server) = try startIperf3Server()
        defer { if server.isRunning { server.terminate() } }

        let created = try await service.api.post("/v1/listeners", json: #"{"name":"iperf","address":"127.0.0.1:0","mode":"forward","forward_to":"127.0.0.1:\#(iperfPort)"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(created["forward_to"] as? String, "127.0.0.1:\(iperfPort)")
        let forwardPort = port(of: created)

        // iperf3's server may not be listening yet: retry the client until it gets through.
        var result: (status: Int32, output: String) = (1, "")
        try await eventually("an iperf3 run through the relay", timeout: .seconds(60)) {
            result = try await runTool("iperf3", ["-c", "127.0.0.1", "-p", String(forwardPort), "-t", "1", "-P", "2", "-J"])
            return result.status == 0
        }
        let report = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as! [String: Any]
        let end = report["end"] as! [String: Any]
        let received = (end["sum_received"] as! [String: Any])["bytes"] as! Int
        let sent = (end["sum_sent"] as! [String: Any])["bytes"] as! Int
        XCTAssertGreaterThan(received, 1_000_000)

        // The control connection and two streams: three pairs, every half closed and linked.
        var rows: [[String: Any]] = []
        try await eventually("every half recorded closed") {
            rows = try await sessions(service, "listener=iperf&limit=1000")
            return rows.count >= 6 && rows.allSatisfy { $0["state"] as? String == "closed" }
        }
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0["id"] as! String, $0) })
        var relayedToServer = 0
        for accepted in rows where accepted["role"] as? String == "server" {
            let upstream = try XCTUnwrap(byID[accepted["partner_id"] as? String ?? ""], "the accepted half names its upstream")
            XCTAssertEqual(upstream["role"] as? String, "client")
            XCTAssertEqual(upstream["partner_id"] as? String, accepted["id"] as? String)
            XCTAssertEqual(upstream["bytes_out"] as? Int, accepted["bytes_in"] as? Int, "what came in went on")
            XCTAssertEqual(accepted["bytes_out"] as? Int, upstream["bytes_in"] as? Int, "what came back went back")
            relayedToServer += accepted["bytes_in"] as! Int
        }
        // Everything iperf3's server counted passed through the relay; at most what the client
        // wrote did (bytes still in socket buffers when the test ends are dropped), plus control chatter.
        XCTAssertGreaterThanOrEqual(relayedToServer, received)
        XCTAssertLessThan(relayedToServer, sent + 100_000, "sent \(sent), relayed \(relayedToServer)")
    }

    /// 100 MiB from a fast upstream to a client that stops reading: the relay stops reading
    /// the upstream instead of buffering, so the service's memory stays flat.
    func testASlowReaderKeepsTheServiceMemoryBounded() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let total = 100 << 20
        let upstream = try await TestUpstream.start(.send(bytes: total))
        defer { Task { await upstream.stop() } }
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"bulk","address":"127.0.0.1:0","mode":"forward","forward_to":"127.0.0.1:\#(upstream.port)"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let before = try service.residentBytes()

        let client = try await TestConnection.connect(port: port(of: created), receiveBuffer: 64 * 1024, keepBytes: false)
        try await client.stopReading()
        // Backpressure engaged: the upstream's sending stalls far short of 100 MiB.
        var last = -1
        try await eventually("the upstream to stall") {
            let sent = upstream.bytesSent
            defer { last = sent }
            if sent == last && sent > 0 { return true }
            try await Task.sleep(for: .milliseconds(200))
            return false
        }
        XCTAssertLessThan(upstream.bytesSent, 32 << 20, "the relay kept reading from the upstream")
        let stalled = try service.residentBytes()
        XCTAssertLessThan(stalled - before, 16 << 20, "resident memory grew by \((stalled - before) >> 20) MiB while the reader stalled")

        try await client.resumeReading()
        try await eventually("all 100 MiB delivered", timeout: .seconds(60)) { client.receivedCount == total }
        let after = try service.residentBytes()
        XCTAssertLessThan(after - before, 16 << 20, "resident memory grew by \((after - before) >> 20) MiB over the transfer")
        try await client.waitForClose()
        try await eventually("both halves recorded with 100 MiB") {
            let rows = try await sessions(service, "listener=bulk")
            return rows.count == 2 && rows.allSatisfy { $0["state"] as? String == "closed" }
                && rows.contains { $0["role"] as? String == "server" && $0["bytes_out"] as? Int == total }
                && rows.contains { $0["role"] as? String == "client" && $0["bytes_in"] as? Int == total }
        }
    }

    func testForwardListenersAndReconnectingSessionsComeBackAfterARestart() async throws {
        let first = try await ServiceProcess.start()
        let echo = try await first.api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
        let echoPort = port(of: echo)
        let forward = try await first.api.post("/v1/listeners", json: #"{"name":"front","address":"127.0.0.1:0","mode":"forward","forward_to":"127.0.0.1:\#(echoPort)","on_upstream_failure":"reset","idle_timeout_ms":60000,"keepalive":{"idle_s":30,"count":4},"backlog":64}"#)
        XCTAssertEqual(forward.status, 201, forward.text)
        let reconnecting = try await first.api.post("/v1/sessions", json: #"{"connect":"127.0.0.1:\#(echoPort)","name":"plc-1","reconnect":{"initial_ms":50,"max_ms":500}}"#)
        XCTAssertEqual(reconnecting.status, 201, reconnecting.text)
        XCTAssertEqual(reconnecting["state"] as? String, "connected")
        XCTAssertNotNil(reconnecting["session"] as? [String: Any])
        await first.stop(keepingFiles: true)

        let second = try await ServiceProcess.start(in: first.directory)
        defer { Task { await second.stop() } }
        let restored = try await second.api.get("/v1/listeners/front")
        XCTAssertEqual(restored["mode"] as? String, "forward")
        XCTAssertEqual(restored["on_upstream_failure"] as? String, "reset")
        let options = restored["options"] as! [String: Any]
        XCTAssertEqual(options["idle_timeout_ms"] as? Int, 60000)
        XCTAssertEqual(options["backlog"] as? Int, 64)
        XCTAssertEqual((options["keepalive"] as? [String: Any])?["count"] as? Int, 4)
        let client = try await TestConnection.connect(port: port(of: restored))
        try await client.send("still relayed")
        _ = try await client.read(atLeast: 13)
        XCTAssertEqual(client.receivedText, "still relayed")

        try await eventually("plc-1 connected again") {
            let list = try await second.api.get("/v1/sessions?name=plc-1")
            let status = (list["reconnecting"] as? [[String: Any]])?.first
            return status?["state"] as? String == "connected"
        }
        let stopped = try await second.api.delete("/v1/sessions?name=plc-1")
        XCTAssertEqual(stopped.status, 200, stopped.text)
        XCTAssertEqual(stopped["state"] as? String, "stopped")
        let missing = try await second.api.delete("/v1/sessions?name=plc-1")
        XCTAssertEqual(missing.status, 404, missing.text)
    }
}

extension ForwardingTests {
    /// At --max-sessions further connections are refused and counted, and the API still answers.
    func testTheSessionLimitRefusesConnectionsAndTheAPIStillAnswers() async throws {
        let service = try await ServiceProcess.start(["--max-sessions", "5"])
        defer { Task { await service.stop() } }
        let info = try await service.api.get("/v1/info")
        XCTAssertEqual(info["max_sessions"] as? Int, 5)
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"h","address":"127.0.0.1:0","mode":"hold"}"#)
        let port = port(of: created)
        var held: [TestConnection] = []
        for _ in 0..<5 { held.append(try await TestConnection.connect(port: port)) }
        try await eventually("5 open sessions") { (try await service.api.get("/v1/info"))["open_sessions"] as? Int == 5 }
        let refused = try await TestConnection.connect(port: port)
        try await refused.waitForClose()
        let listener = try await service.api.get("/v1/listeners/h")
        XCTAssertEqual(listener["rejected_sessions"] as? Int, 1)
        let outbound = try await service.api.post("/v1/sessions", json: #"{"connect":"127.0.0.1:\#(port)"}"#)
        XCTAssertEqual(outbound.status, 503, outbound.text)
        XCTAssertEqual(outbound.errorCode, "limit_reached")
        let health = try await service.api.get("/healthz")
        XCTAssertEqual(health.status, 200)
        // A reset, not a FIN: a hold session outlives its client's FIN (for up to 60 s) in
        // case the client only half-closed to wait for its answer.
        await held[0].reset()
        try await eventually("a slot is free") { (try await service.api.get("/v1/info"))["open_sessions"] as? Int == 4 }
        let admitted = try await TestConnection.connect(port: port)
        try await eventually("5 open again") { (try await service.api.get("/v1/info"))["open_sessions"] as? Int == 5 }
        XCTAssertFalse(admitted.isClosed)
    }

    /// A down upstream fails every connection: the journal gets one line, not one a connection,
    /// while every failure is still counted in the history.
    func testADownUpstreamIsLoggedOnceNotPerConnection() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let nobody = try freePort()
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"fwd","address":"127.0.0.1:0","mode":"forward","forward_to":"127.0.0.1:\#(nobody)"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        for _ in 0..<20 {
            let client = try await TestConnection.connect(port: port(of: created))
            try await client.waitForClose()
        }
        try await eventually("20 failed sessions in the history") { try await self.sessions(service, "listener=fwd&state=closed").count == 20 }
        let lines = service.output.components(separatedBy: "upstream connection failed").count - 1
        XCTAssertEqual(lines, 1, service.output)
    }

    /// A reconnecting session whose connections end at once cycles for ever: the journal gets
    /// a line every 10 s, not one a cycle.
    func testAReconnectingSessionThatKeepsCyclingIsLoggedOnce() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        // Each connection idles out after 20 ms, and the session comes back 10 ms later.
        let target = try await service.api.post("/v1/listeners", json: #"{"name":"short","address":"127.0.0.1:0","mode":"hold","idle_timeout_ms":20}"#)
        XCTAssertEqual(target.status, 201, target.text)
        let session = try await service.api.post("/v1/sessions", json: #"{"connect":"127.0.0.1:\#(port(of: target))","name":"cycling","reconnect":{"initial_ms":10,"max_ms":10}}"#)
        XCTAssertEqual(session.status, 201, session.text)
        try await eventually("ten cycles in the history") { try await self.sessions(service, "name=cycling&state=closed").count >= 10 }
        let lines = service.output.components(separatedBy: "reconnecting session waiting").count - 1
        XCTAssertEqual(lines, 1, service.output)
    }
}
