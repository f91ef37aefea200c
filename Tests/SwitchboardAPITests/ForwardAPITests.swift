import SwitchboardTestSupport
import XCTest

/// Forward listeners, connection options and reconnecting sessions through the API.
final class ForwardAPITests: XCTestCase {
    func testAForwardListenerRelaysAndShowsItsOptions() async throws {
        try await withAPI { api, _ in
            let echo = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
            let echoAddress = echo["address"] as! String
            let created = try await api.post("/v1/listeners", json: #"{"name":"fwd","address":"127.0.0.1:0","mode":"forward","forward_to":"\#(echoAddress)","capture":true,"nodelay":false,"keepalive":{},"idle_timeout_ms":30000,"connect_timeout_ms":500}"#)
            XCTAssertEqual(created.status, 201, created.text)
            XCTAssertEqual(created["forward_to"] as? String, echoAddress)
            XCTAssertEqual(created["on_upstream_failure"] as? String, "close")
            let options = try XCTUnwrap(created["options"] as? [String: Any])
            XCTAssertEqual(options["nodelay"] as? Bool, false)
            XCTAssertEqual(options["idle_timeout_ms"] as? Int, 30000)
            XCTAssertEqual(options["connect_timeout_ms"] as? Int, 500)
            XCTAssertEqual(options["backlog"] as? Int, 256)
            XCTAssertNotNil(options["keepalive"] as? [String: Any])

            let port = Int((created["address"] as! String).split(separator: ":").last!)!
            let client = try await TestConnection.connect(port: port)
            try await client.send("through")
            _ = try await client.read(atLeast: 7)
            await client.close()
            var sessions: [[String: Any]] = []
            try await eventually("both halves closed in the history") {
                sessions = try await api.get("/v1/history?listener=fwd")["sessions"] as? [[String: Any]] ?? []
                return sessions.count == 2 && sessions.allSatisfy { $0["state"] as? String == "closed" }
            }
            let accepted = try XCTUnwrap(sessions.first { $0["role"] as? String == "server" })
            let upstream = try XCTUnwrap(sessions.first { $0["role"] as? String == "client" })
            XCTAssertEqual(accepted["partner_id"] as? String, upstream["id"] as? String)
            XCTAssertEqual(upstream["partner_id"] as? String, accepted["id"] as? String)
            // Capture records the conversation once, on the accepted half, both directions.
            XCTAssertEqual(accepted["capture"] as? Bool, true)
            let messages = try await api.get("/v1/history/\(accepted["id"] as! String)/messages")
            let items = try XCTUnwrap(messages["messages"] as? [[String: Any]], messages.text)
            XCTAssertEqual(items.map { $0["direction"] as? String }, ["in", "out"])
            XCTAssertEqual(items.map { $0["data"] as? String }, ["through", "through"])
        }
    }

    func testBadForwardAndOptionValuesAreRefusedByName() async throws {
        try await withAPI { api, _ in
            let base = #""name":"f","address":"127.0.0.1:0""#
            let cases: [(String, String, String)] = [
                (#"{\#(base),"mode":"forward"}"#, "missing_field", "forward_to"),
                (#"{\#(base),"mode":"forward","forward_to":"nowhere"}"#, "invalid_value", "forward_to"),
                (#"{\#(base),"mode":"forward","forward_to":"127.0.0.1:0"}"#, "invalid_value", "port 0"),
                (#"{\#(base),"mode":"forward","forward_to":"127.0.0.1:9","on_upstream_failure":"explode"}"#, "invalid_value", "on_upstream_failure"),
                (#"{\#(base),"mode":"echo","forward_to":"127.0.0.1:9"}"#, "invalid_value", "forward_to"),
                (#"{\#(base),"mode":"echo","connect_timeout_ms":5}"#, "invalid_value", "connect_timeout_ms"),
                (#"{\#(base),"mode":"echo","idle_timeout_ms":0}"#, "invalid_value", "idle_timeout_ms"),
                (#"{\#(base),"mode":"echo","idle_timeout_ms":1e30}"#, "invalid_type", "idle_timeout_ms"),
                (#"{\#(base),"mode":"echo","backlog":0}"#, "invalid_value", "backlog"),
                (#"{\#(base),"mode":"echo","backlog":"many"}"#, "invalid_type", "backlog"),
                (#"{\#(base),"mode":"echo","nodelay":"yes"}"#, "invalid_type", "nodelay"),
                (#"{\#(base),"mode":"echo","keepalive":true}"#, "invalid_type", "keepalive"),
                (#"{\#(base),"mode":"echo","keepalive":{"idle_s":0}}"#, "invalid_value", "keepalive.idle_s"),
                (#"{\#(base),"mode":"echo","keepalive":{"count":1000}}"#, "invalid_value", "keepalive.count"),
                (#"{\#(base),"mode":"echo","keepalive":{"idle":5}}"#, "unknown_field", "keepalive.idle"),
            ]
            for (body, code, mention) in cases {
                let result = try await api.post("/v1/listeners", json: body)
                XCTAssertEqual(result.status, 400, "\(body) → \(result.text)")
                XCTAssertEqual(result.errorCode, code, "\(body) → \(result.text)")
                XCTAssertTrue(result.text.contains(mention), "\(body) → \(result.text) should name \(mention)")
            }
            let listeners = try await api.get("/v1/listeners")
            XCTAssertEqual((listeners["listeners"] as? [Any])?.count, 0)
        }
    }

    func testReconnectingSessionsThroughTheAPI() async throws {
        try await withAPI { api, _ in
            let echo = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
            let address = echo["address"] as! String
            let bad: [(String, String)] = [
                (#"{"connect":"\#(address)","reconnect":{}}"#, "missing_field"),
                (#"{"connect":"\#(address)","name":"r","reconnect":{"initial_ms":0}}"#, "invalid_value"),
                (#"{"connect":"\#(address)","name":"r","reconnect":{"initial_ms":500,"max_ms":100}}"#, "invalid_value"),
                (#"{"connect":"\#(address)","name":"r","reconnect":{"jitter":"sometimes"}}"#, "invalid_type"),
                (#"{"connect":"\#(address)","name":"r","reconnect":{"tries":3}}"#, "unknown_field"),
                (#"{"connect":"\#(address)","name":"r","reconnect":[]}"#, "invalid_type"),
            ]
            for (body, code) in bad {
                let result = try await api.post("/v1/sessions", json: body)
                XCTAssertEqual(result.status, 400, "\(body) → \(result.text)")
                XCTAssertEqual(result.errorCode, code, "\(body) → \(result.text)")
            }

            let created = try await api.post("/v1/sessions", json: #"{"connect":"\#(address)","name":"plc-1","reconnect":{"initial_ms":50,"max_ms":1000,"jitter":false},"keepalive":{"idle_s":10}}"#)
            XCTAssertEqual(created.status, 201, created.text)
            XCTAssertEqual(created["state"] as? String, "connected")
            XCTAssertEqual(created["connect"] as? String, address)
            let session = try XCTUnwrap(created["session"] as? [String: Any])
            XCTAssertEqual(session["name"] as? String, "plc-1")

            let taken = try await api.post("/v1/sessions", json: #"{"connect":"\#(address)","name":"plc-1"}"#)
            XCTAssertEqual(taken.status, 409, taken.text)

            let listed = try await api.get("/v1/sessions?name=plc-1")
            let reconnecting = try XCTUnwrap(listed["reconnecting"] as? [[String: Any]])
            XCTAssertEqual(reconnecting.count, 1)
            XCTAssertEqual(reconnecting[0]["session_id"] as? String, session["id"] as? String)
            XCTAssertEqual((listed["sessions"] as? [Any])?.count, 1)

            let noName = try await api.delete("/v1/sessions")
            XCTAssertEqual(noName.status, 400, noName.text)
            let stopped = try await api.delete("/v1/sessions?name=plc-1")
            XCTAssertEqual(stopped.status, 200, stopped.text)
            XCTAssertEqual(stopped["state"] as? String, "stopped")
            let after = try await api.get("/v1/sessions?name=plc-1")
            XCTAssertEqual((after["reconnecting"] as? [Any])?.count, 0)
        }
    }
}

extension ForwardAPITests {
    /// The core's own reports reach live events: a refused upstream, and a reconnecting session.
    func testLiveEventsOfAForwardWithNoUpstreamAndOfAReconnectingSession() async throws {
        try await withAPI { api, _ in
            let stream = try await EventStreamClient.open(port: api.port, "/v1/events")
            let nobody = try await api.post("/v1/listeners", json: #"{"name":"gone","address":"127.0.0.1:0","mode":"echo"}"#)
            let address = nobody["address"] as! String
            _ = try await api.delete("/v1/listeners/gone")
            let created = try await api.post("/v1/listeners", json: #"{"name":"fwd","address":"127.0.0.1:0","mode":"forward","forward_to":"\#(address)"}"#)
            let client = try await TestConnection.connect(port: Int((created["address"] as! String).split(separator: ":").last!)!)
            try await client.waitForClose()
            let events = try await stream.waitForEvents("the accepted half to close") { $0.contains { $0.event == "session.closed" } }
            XCTAssertEqual(events.map(\.event), ["listener.created", "listener.deleted", "listener.created", "session.opened", "connect.failed", "session.closed"])
            XCTAssertEqual(events[4]["listener"] as? String, "fwd")
            XCTAssertTrue((events[5]["close_reason"] as? String)?.hasPrefix("error: upstream:") ?? false, "\(events[5].json)")

            let echo = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
            _ = try await api.post("/v1/sessions", json: #"{"connect":"\#(echo["address"] as! String)","name":"plc-1","reconnect":{}}"#)
            let more = try await stream.waitForEvents("connected") { $0.contains { $0.event == "session.reconnecting" && $0["state"] as? String == "connected" } }
            let connected = try XCTUnwrap(more.first { $0.event == "session.reconnecting" && $0["state"] as? String == "connected" })
            XCTAssertEqual(connected["name"] as? String, "plc-1")
            XCTAssertNotNil(connected["session_id"] as? String)
            await stream.close()
        }
    }
}
