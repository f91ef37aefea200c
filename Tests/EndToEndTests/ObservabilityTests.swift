import Foundation
import SwitchboardTestSupport
import XCTest

/// Live events and metrics of the built binary, as an operator's curl and Prometheus see them.
final class ObservabilityTests: XCTestCase {
    /// The value of the sample whose series has all of `labels`, or nil if there is none.
    private func value(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = line[..<space]
            guard series == name || series.hasPrefix(name + "{") else { continue }
            if labels.allSatisfy({ series.contains("\($0.key)=\"\($0.value)\"") }) { return Double(line[line.index(after: space)...]) }
        }
        return nil
    }

    func testMetricsMoveWithTrafficAndNameNoSessions() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let before = try await service.api.get("/metrics")
        XCTAssertEqual(before.status, 200)
        XCTAssertEqual(before.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertNil(value(before.text, "switchboard_sessions_opened_total", ["listener": "echo"]))

        let created = try await service.api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
        let peer = try await TestConnection.connect(port: Int((created["address"] as! String).split(separator: ":").last!)!)
        try await peer.send(String(repeating: "m", count: 1000))
        try await peer.read(atLeast: 1000)

        // Still open: its bytes already show.
        let during = try await service.api.get("/metrics").text
        XCTAssertEqual(value(during, "switchboard_sessions_opened_total", ["listener": "echo", "role": "server"]), 1, during)
        XCTAssertEqual(value(during, "switchboard_open_sessions", ["listener": "echo", "role": "server"]), 1, during)
        XCTAssertEqual(value(during, "switchboard_bytes_total", ["listener": "echo", "direction": "in"]), 1000, during)
        XCTAssertEqual(value(during, "switchboard_bytes_total", ["listener": "echo", "direction": "out"]), 1000, during)
        XCTAssertEqual(value(during, "switchboard_listeners"), 1, during)

        try await peer.send(String(repeating: "n", count: 500))
        try await peer.read(atLeast: 1500)
        await peer.close()
        var after = ""
        try await eventually("the close to be counted") {
            after = try await service.api.get("/metrics").text
            return value(after, "switchboard_sessions_closed_total", ["listener": "echo", "reason": "peer"]) == 1
        }
        XCTAssertEqual(value(after, "switchboard_open_sessions", ["listener": "echo", "role": "server"]), 0, after)
        XCTAssertEqual(value(after, "switchboard_bytes_total", ["listener": "echo", "direction": "in"]), 1500, "each byte once:\n\(after)")
        XCTAssertEqual(value(after, "switchboard_bytes_total", ["listener": "echo", "direction": "out"]), 1500, after)
        try await eventually("the history writer's counters") {
            after = try await service.api.get("/metrics").text
            return (value(after, "switchboard_history_records_written_total") ?? 0) >= 2
        }
        XCTAssertNotNil(value(after, "switchboard_history_write_duration_seconds_count"), after)
        XCTAssertNotNil(value(after, "switchboard_history_batch_records_count"), after)
        XCTAssertNotNil(value(after, "switchboard_history_queue_depth"), after)
        XCTAssertTrue(after.contains(#"switchboard_http_requests_total{route="/v1/listeners",method="POST",status="201"} 1"#), after)

        let sessions = try await service.api.get("/v1/history")["sessions"] as! [[String: Any]]
        let id = try XCTUnwrap(sessions.first?["id"] as? String)
        XCTAssertFalse(after.contains(id), "no session id in any label")
        XCTAssertFalse(after.contains("127.0.0.1"), "no address in any label")
    }

    func testCurlSeesEventsAsTheyHappenAndSIGTERMEndsTheStream() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let stream = try await EventStreamClient.open(port: service.apiPort!, "/v1/events")
        XCTAssertEqual(stream.status, 200)
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"hold","address":"127.0.0.1:0","mode":"hold"}"#)
        let peer = try await TestConnection.connect(port: Int((created["address"] as! String).split(separator: ":").last!)!)
        try await stream.waitForEvents("the session to open") { $0.map(\.event) == ["listener.created", "session.opened"] }

        // Shutdown closes the session, the stream carries that close and then ends; the open
        // stream does not hold up the exit.
        service.signal(SIGTERM)
        let status = try await service.waitForExit(timeout: .seconds(10))
        XCTAssertEqual(status, 0, service.output)
        let events = try await stream.waitForEvents("the close") { $0.contains { $0.event == "session.closed" } }
        XCTAssertEqual(events.last?["close_reason"] as? String, "local")
        try await stream.connection.waitForClose(timeout: .seconds(5))
        XCTAssertTrue(stream.connection.receivedText.hasSuffix("0\r\n\r\n"), "the body ended properly: \(stream.connection.receivedText.suffix(80))")
        try await peer.waitForClose(timeout: .seconds(5))
    }

    func testMaxEventClientsFlagAndEnvironment() async throws {
        let help = try await runSwitchboard(["serve", "--help"])
        XCTAssertTrue(help.output.contains("--max-event-clients"), help.output)
        XCTAssertTrue(help.output.contains("SWITCHBOARD_MAX_EVENT_CLIENTS"), help.output)

        let service = try await ServiceProcess.start(environment: ["SWITCHBOARD_MAX_EVENT_CLIENTS": "1"])
        defer { Task { await service.stop() } }
        let one = try await EventStreamClient.open(port: service.apiPort!, "/v1/events")
        XCTAssertEqual(one.status, 200)
        let two = try await service.api.get("/v1/events")
        XCTAssertEqual(two.status, 503)
        XCTAssertEqual(two.errorCode, "too_many_clients")
        await one.close()
    }
}
