import Foundation
import SwitchboardTestSupport
import XCTest

/// Faults are stored with their listener or reconnecting session: killed with SIGKILL and
/// started again on the same file, the service has them as they were last changed, applies
/// them to new connections, and the history still finds the sessions they applied to.
final class FaultPersistenceTests: XCTestCase {
    private func port(of listener: HTTPResult) -> Int {
        Int((listener["address"] as! String).split(separator: ":").last!)!
    }

    private func history(_ file: String, _ extra: [String]) async throws -> [[String: Any]] {
        let (status, output) = try await runSwitchboard(["history", "list", "--db", file, "--format", "ndjson"] + extra)
        XCTAssertEqual(status, 0, output)
        return try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    private func names(_ faults: Any?) -> [String] {
        (faults as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    func testListenerAndReconnectingSessionFaultsComeBackAfterSIGKILL() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let first = try await ServiceProcess.start()
        let api = first.api
        let created = try await api.post("/v1/listeners", json: #"""
            {"name":"front","address":"127.0.0.1:0","mode":"forward","forward_to":"127.0.0.1:\#(upstream.port)","faults":[
              {"name":"slow","type":"latency","attributes":{"latency":5}},{"type":"connect_delay","attributes":{"delay":1}}]}
            """#)
        XCTAssertEqual(created.status, 201, created.text)
        let added = try await api.post("/v1/listeners/front/faults", json: #"{"name":"never","type":"blackhole","toxicity":0}"#)
        XCTAssertEqual(added.status, 201, added.text)
        let changed = try await api.patch("/v1/listeners/front/faults/slow", json: #"{"attributes":{"jitter":1},"toxicity":1.0}"#)
        XCTAssertEqual(changed.status, 200, changed.text)
        let session = try await api.post("/v1/sessions", json: #"""
            {"name":"plc","connect":"127.0.0.1:\#(upstream.port)","reconnect":{},"faults":[{"type":"slicer","attributes":{"average_size":4}}]}
            """#)
        XCTAssertEqual(session.status, 201, session.text)
        let late = try await api.post("/v1/sessions/plc/faults", json: #"{"name":"late","type":"latency","direction":"upstream","attributes":{"latency":1}}"#)
        XCTAssertEqual(late.status, 201, late.text)
        let removed = try await api.delete("/v1/sessions/plc/faults/slicer_downstream")
        XCTAssertEqual(removed.status, 200, removed.text)

        // One connection through the faults before the kill, for the history.
        let peer = try await TestConnection.connect(port: port(of: created))
        try await peer.send("ping")
        _ = try await peer.read(atLeast: 4)
        let accepted = try await api.get("/v1/sessions?listener=front&role=server")
        let acceptedID = try XCTUnwrap((accepted["sessions"] as? [[String: Any]])?.first?["id"] as? String, accepted.text)
        let listenerFaults = try await api.get("/v1/listeners/front/faults")
        let sessionFaults = try await api.get("/v1/sessions/plc/faults")
        XCTAssertEqual(names(listenerFaults["faults"]), ["slow", "connect_delay_downstream", "never"])
        XCTAssertEqual(names(sessionFaults["faults"]), ["late"])

        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        await peer.close()

        let second = try await ServiceProcess.start(in: first.directory)
        defer { Task { await second.stop() } }
        let restoredListener = try await second.api.get("/v1/listeners/front/faults")
        XCTAssertEqual(restoredListener.text, listenerFaults.text, "the listener's faults as last changed, in order")
        let restoredSession = try await second.api.get("/v1/sessions/plc/faults")
        XCTAssertEqual(restoredSession.text, sessionFaults.text, "the removed one stays removed")
        let listener = try await second.api.get("/v1/listeners/front")
        XCTAssertEqual(listener["state"] as? String, "listening", listener.text)

        // They act on the connections the restored listener and session make.
        try await eventually("the reconnecting session to connect with its fault") {
            let status = try await second.api.get("/v1/sessions?name=plc&state=open")
            let live = (status["sessions"] as? [[String: Any]])?.first
            return (live?["faults"] as? [[String: Any]])?.contains { $0["name"] as? String == "late" && $0["applied"] as? Bool == true } == true
        }
        let again = try await TestConnection.connect(port: port(of: created))
        try await again.send("pong")
        _ = try await again.read(atLeast: 4)
        let now = try await second.api.get("/v1/sessions?listener=front&role=server&state=open")
        let log = try XCTUnwrap((now["sessions"] as? [[String: Any]])?.first?["faults"] as? [[String: Any]], now.text)
        XCTAssertEqual(log.map { $0["name"] as? String }, ["slow", "connect_delay_downstream", "never"], now.text)
        XCTAssertEqual(log.last?["applied"] as? Bool, false, "toxicity 0 never applies")
        await again.close()

        // The session from before the kill is in the history, found by the fault that applied to it.
        try await eventually("the session from before the kill in the history") {
            try await self.history(second.historyFile, ["--fault", "slow"]).contains { $0["id"] as? String == acceptedID }
        }
        let never = try await history(second.historyFile, ["--fault", "never"])
        XCTAssertEqual(never.count, 0, "a fault that met sessions but never applied finds none")
        let api2 = try await second.api.get("/v1/history?fault=slow&role=server")
        XCTAssertTrue((api2["sessions"] as? [[String: Any]] ?? []).contains { $0["id"] as? String == acceptedID }, api2.text)
    }

    func testAStoredFaultTheServiceCannotCarryOutRestoresItsListenerAsFailed() async throws {
        let first = try await ServiceProcess.start()
        let created = try await first.api.post("/v1/listeners", json: #"{"name":"odd","address":"127.0.0.1:0","mode":"echo","faults":[{"type":"latency"}]}"#)
        XCTAssertEqual(created.status, 201, created.text)
        first.signal(SIGTERM)
        _ = try await first.waitForExit()
        // As a later build might have written it: a type this one does not know.
        let edit = Process()
        edit.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        edit.arguments = ["-c", #"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE listeners SET faults = replace(faults, '\"latency\"', '\"teleport\"')"); c.commit()"#, first.historyFile]
        try edit.run()
        edit.waitUntilExit()
        XCTAssertEqual(edit.terminationStatus, 0)

        let second = try await ServiceProcess.start(in: first.directory)
        defer { Task { await second.stop() } }
        let restored = try await second.api.get("/v1/listeners/odd")
        XCTAssertEqual(restored["state"] as? String, "failed", restored.text)
        XCTAssertTrue((restored["error"] as? String ?? "").contains("teleport"), restored.text)
        let refused = try await second.api.post("/v1/listeners/odd/faults", json: #"{"type":"bandwidth"}"#)
        XCTAssertEqual(refused.status, 400, "its faults cannot change until it is created again: \(refused.text)")
    }
}
