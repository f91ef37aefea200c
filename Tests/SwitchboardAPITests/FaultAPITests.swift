import Foundation
import SwitchboardTestSupport
import XCTest

/// `.../faults` under listeners and sessions: every endpoint, every refusal with the field
/// named, the session's log of draws, the history's fault filter, events and metrics.
final class FaultAPITests: XCTestCase {
    private func port(of listener: HTTPResult) -> Int {
        Int((listener["address"] as! String).split(separator: ":").last!)!
    }

    private func names(_ faults: Any?) -> [String] {
        (faults as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    private func fault(_ result: HTTPResult, _ name: String, in key: String = "faults") -> [String: Any]? {
        (result[key] as? [[String: Any]])?.first { $0["name"] as? String == name }
    }

    func testEveryEndpointOnAListener() async throws {
        try await withAPI { api, _ in
            let created = try await api.post("/v1/listeners", json: #"""
                {"name":"front","address":"127.0.0.1:0","mode":"echo","faults":[
                  {"type":"latency","attributes":{"latency":20}},
                  {"name":"cut","type":"limit_data","direction":"upstream","toxicity":0.5,"attributes":{"bytes":1000}}]}
                """#)
            XCTAssertEqual(created.status, 201, created.text)
            XCTAssertEqual(names(created["faults"]), ["latency_downstream", "cut"], "a fault without a name is TYPE_DIRECTION")
            let latency = try XCTUnwrap(fault(created, "latency_downstream"))
            XCTAssertEqual(latency["direction"] as? String, "downstream", "downstream by default")
            XCTAssertEqual(latency["toxicity"] as? Double, 1, "toxicity 1.0 by default")
            XCTAssertEqual(latency["attributes"] as? [String: Int], ["latency": 20, "jitter": 0], "every attribute of its type; a missing one is 0")

            let added = try await api.post("/v1/listeners/front/faults", json: #"{"type":"bandwidth","attributes":{"rate":100}}"#)
            XCTAssertEqual(added.status, 201, added.text)
            XCTAssertEqual(JSONKeyOrder.topLevelKeys(added.text), ["name", "type", "direction", "toxicity", "attributes"])
            XCTAssertEqual(added["name"] as? String, "bandwidth_downstream")

            let list = try await api.get("/v1/listeners/front/faults")
            XCTAssertEqual(list.status, 200, list.text)
            XCTAssertEqual(names(list["faults"]), ["latency_downstream", "cut", "bandwidth_downstream"], "in the order added")

            let shown = try await api.get("/v1/listeners/front/faults/cut")
            XCTAssertEqual(shown.status, 200, shown.text)
            XCTAssertEqual(shown["type"] as? String, "limit_data")
            XCTAssertEqual(shown["direction"] as? String, "upstream")
            XCTAssertEqual(shown["toxicity"] as? Double, 0.5)
            XCTAssertEqual(shown["attributes"] as? [String: Int], ["bytes": 1000])

            let changed = try await api.patch("/v1/listeners/front/faults/latency_downstream", json: #"{"attributes":{"jitter":5},"toxicity":0.25}"#)
            XCTAssertEqual(changed.status, 200, changed.text)
            XCTAssertEqual(changed["attributes"] as? [String: Int], ["latency": 20, "jitter": 5], "attributes are merged into the fault's")
            XCTAssertEqual(changed["toxicity"] as? Double, 0.25)
            // A client that sends the whole fault back, unchanged where it cannot change.
            let resent = try await api.patch("/v1/listeners/front/faults/latency_downstream", json: #"{"name":"latency_downstream","type":"latency","direction":"downstream","attributes":{"latency":30}}"#)
            XCTAssertEqual(resent.status, 200, resent.text)
            XCTAssertEqual(resent["attributes"] as? [String: Int], ["latency": 30, "jitter": 5])
            let listener = try await api.get("/v1/listeners/front")
            XCTAssertEqual(fault(listener, "latency_downstream")?["attributes"] as? [String: Int], ["latency": 30, "jitter": 5], "the listener shows its faults as they are")

            let removed = try await api.delete("/v1/listeners/front/faults/cut")
            XCTAssertEqual(removed.status, 200, removed.text)
            XCTAssertEqual(removed["name"] as? String, "cut", "the removed fault")
            let gone = try await api.get("/v1/listeners/front/faults/cut")
            XCTAssertEqual(gone.status, 404, gone.text)
            XCTAssertEqual(gone.errorCode, "not_found")
            let after = try await api.get("/v1/listeners/front/faults")
            XCTAssertEqual(names(after["faults"]), ["latency_downstream", "bandwidth_downstream"])
        }
    }

    func testBadInputIsRefusedWithTheFieldNamed() async throws {
        try await withAPI { api, _ in
            let created = try await api.post("/v1/listeners", json: #"{"name":"l","address":"127.0.0.1:0","mode":"echo","faults":[{"type":"latency"}]}"#)
            XCTAssertEqual(created.status, 201, created.text)
            let faults = "/v1/listeners/l/faults"
            let existing = "\(faults)/latency_downstream"
            let unknownSession = "/v1/sessions/01M8B0P50C1E146WK4HR517E71/faults"
            // (method, path, body, status, code, what the message must name)
            let cases: [(String, String, String?, Int, String, String)] = [
                ("POST", faults, #"{"type":"teleport"}"#, 400, "invalid_value", "type"),
                ("POST", faults, #"{"direction":"upstream"}"#, 400, "missing_field", "type"),
                ("POST", faults, #"{"type":"latency","attributes":{"rate":1}}"#, 400, "invalid_value", "attributes.rate"),
                ("POST", faults, #"{"type":"latency","attributes":{"latency":"100"}}"#, 400, "invalid_type", "attributes.latency"),
                ("POST", faults, #"{"type":"latency","attributes":{"latency":null}}"#, 400, "invalid_type", "attributes.latency"),
                ("POST", faults, #"{"type":"latency","attributes":[100]}"#, 400, "invalid_type", "attributes"),
                ("POST", faults, #"{"type":"latency","toxicity":1.5}"#, 400, "invalid_value", "toxicity"),
                ("POST", faults, #"{"type":"latency","toxicity":"high"}"#, 400, "invalid_type", "toxicity"),
                ("POST", faults, #"{"type":"latency","attributes":{"latency":-1}}"#, 400, "invalid_value", "attributes.latency"),
                ("POST", faults, #"{"type":"latency","attributes":{"latency":1e12}}"#, 400, "invalid_value", "attributes.latency"),
                ("POST", faults, #"{"type":"latency","attributes":{"latency":1.5}}"#, 400, "invalid_value", "attributes.latency"),
                ("POST", faults, #"{"type":"limit_data","attributes":{"bytes":1e300}}"#, 400, "invalid_value", "attributes.bytes"),
                ("POST", faults, #"{"type":"corrupt","attributes":{"probability":2}}"#, 400, "invalid_value", "attributes.probability"),
                ("POST", faults, #"{"type":"corrupt","attributes":{"probability":0.5,"count":3}}"#, 400, "invalid_value", "count"),
                ("POST", faults, #"{"type":"slicer","attributes":{"average_size":10,"size_variation":10}}"#, 400, "invalid_value", "size_variation"),
                ("POST", faults, #"{"type":"latency","direction":"sideways"}"#, 400, "invalid_value", "direction"),
                ("POST", faults, #"{"type":"latency","name":"a b"}"#, 400, "invalid_value", "name"),
                ("POST", faults, #"{"type":"latency","colour":"red"}"#, 400, "unknown_field", "colour"),
                ("POST", faults, #"{"type":"connect_delay"}"#, 400, "invalid_value", "connect_delay"),
                // Checked before the name: a fault that could never be added is not a conflict.
                ("POST", faults, #"{"type":"latency","attributes":{"latency":-1}}"#, 400, "invalid_value", "attributes.latency"),
                ("POST", faults, #"{"type":"latency"}"#, 409, "name_taken", "latency_downstream"),
                ("POST", "/v1/listeners/nope/faults", #"{"type":"latency"}"#, 404, "not_found", "nope"),
                ("GET", "/v1/listeners/nope/faults", nil, 404, "not_found", "nope"),
                ("GET", "\(faults)/nope", nil, 404, "not_found", "nope"),
                ("PATCH", "\(faults)/nope", #"{"toxicity":0.5}"#, 404, "not_found", "nope"),
                ("DELETE", "\(faults)/nope", nil, 404, "not_found", "nope"),
                ("PATCH", existing, #"{"type":"bandwidth"}"#, 400, "invalid_value", "type"),
                ("PATCH", existing, #"{"name":"other"}"#, 400, "invalid_value", "name"),
                ("PATCH", existing, #"{"direction":"upstream"}"#, 400, "invalid_value", "direction"),
                ("PATCH", existing, #"{"attributes":{"rate":5}}"#, 400, "invalid_value", "attributes.rate"),
                ("PATCH", existing, #"{"attributes":{"latency":-5}}"#, 400, "invalid_value", "attributes.latency"),
                ("PATCH", existing, #"{"toxicity":1.5}"#, 400, "invalid_value", "toxicity"),
                ("PATCH", existing, #"{"colour":1}"#, 400, "unknown_field", "colour"),
                ("POST", "/v1/listeners", #"{"name":"m","address":"127.0.0.1:0","mode":"echo","faults":[{"type":"latency"},{"type":"bandwidth","attributes":{"rate":-1}}]}"#, 400, "invalid_value", "faults.1.attributes.rate"),
                ("POST", "/v1/listeners", #"{"name":"m","address":"127.0.0.1:0","mode":"echo","faults":[{"type":"latency","toxicity":1.5}]}"#, 400, "invalid_value", "faults.0.toxicity"),
                ("POST", "/v1/listeners", #"{"name":"m","address":"127.0.0.1:0","mode":"echo","faults":[{"type":"nope"}]}"#, 400, "invalid_value", "faults.0.type"),
                ("POST", "/v1/listeners", #"{"name":"m","address":"127.0.0.1:0","mode":"echo","faults":[{"type":"latency","extra":1}]}"#, 400, "unknown_field", "faults.0.extra"),
                ("POST", "/v1/listeners", #"{"name":"m","address":"127.0.0.1:0","mode":"echo","faults":[{"type":"latency","attributes":{"latency":"x"}}]}"#, 400, "invalid_type", "faults.0.attributes.latency"),
                ("POST", "/v1/listeners", #"{"name":"m","address":"127.0.0.1:0","mode":"echo","faults":"latency"}"#, 400, "invalid_type", "faults"),
                ("POST", "/v1/listeners", #"{"name":"m","address":"127.0.0.1:0","mode":"echo","faults":[{"type":"latency"},{"type":"latency"}]}"#, 409, "name_taken", "latency_downstream"),
                ("POST", "/v1/listeners", #"{"name":"m","address":"127.0.0.1:0","mode":"hold","faults":[{"type":"connect_delay"}]}"#, 400, "invalid_value", "connect_delay"),
                ("POST", "/v1/sessions", #"{"connect":"127.0.0.1:9","faults":[{"type":"connect_delay"}]}"#, 400, "invalid_value", "connect_delay"),
                ("POST", "/v1/sessions", #"{"connect":"127.0.0.1:9","faults":[{"type":"latency","attributes":{"jitter":"x"}}]}"#, 400, "invalid_type", "faults.0.attributes.jitter"),
                ("POST", "/v1/sessions", #"{"name":"r","connect":"127.0.0.1:9","reconnect":{},"faults":[{"type":"slicer","attributes":{"average_size":-1}}]}"#, 400, "invalid_value", "faults.0.attributes.average_size"),
                ("GET", "/v1/sessions/nope/faults", nil, 404, "not_found", "nope"),
                ("POST", unknownSession, #"{"type":"latency"}"#, 404, "not_found", "01M8B0P50C1E146WK4HR517E71"),
                ("GET", "\(unknownSession)/x", nil, 404, "not_found", "01M8B0P50C1E146WK4HR517E71"),
            ]
            for (method, path, body, status, code, field) in cases {
                let answer = try await api.request(method, path, body: body.map { Array($0.utf8) })
                let label = "\(method) \(path) \(body ?? "")"
                XCTAssertEqual(answer.status, status, "\(label): \(answer.text)")
                XCTAssertEqual(answer.errorCode, code, "\(label): \(answer.text)")
                let message = ((try? answer.json)?["error"] as? [String: Any])?["message"] as? String ?? ""
                XCTAssertTrue(message.contains(field), "\(label): the message names \(field): \(message)")
            }
            // Refused whole: nothing of a listener or session whose faults were refused exists.
            let none = try await api.get("/v1/listeners/m")
            XCTAssertEqual(none.status, 404, none.text)
            let reconnecting = try await api.get("/v1/sessions?name=r")
            XCTAssertEqual((reconnecting["reconnecting"] as? [Any])?.count, 0, reconnecting.text)
            let unchanged = try await api.get(existing)
            XCTAssertEqual(unchanged["attributes"] as? [String: Int], ["latency": 0, "jitter": 0], "a refused change changes nothing")
            XCTAssertEqual(unchanged["toxicity"] as? Double, 1)
        }
    }

    func testAFaultOnOneLiveSessionIsDrawnLoggedAndRefusedOnceClosed() async throws {
        try await withAPI { api, switchboard in
            let created = try await api.post("/v1/listeners", json: #"{"name":"desk","address":"127.0.0.1:0","mode":"hold"}"#)
            XCTAssertEqual(created.status, 201, created.text)
            let peer = try await TestConnection.connect(port: port(of: created))
            try await eventually("the session to open") { switchboard.counts.openSessions == 1 }
            let id = try XCTUnwrap(switchboard.sessions().first?.id.rawValue)
            let session = "/v1/sessions/\(id)"

            let added = try await api.post("\(session)/faults", json: #"{"name":"slow","type":"latency","attributes":{"latency":1}}"#)
            XCTAssertEqual(added.status, 201, added.text)
            let own = try await api.get("\(session)/faults")
            XCTAssertEqual(names(own["faults"]), ["slow"])
            let listenerFaults = try await api.get("/v1/listeners/desk/faults")
            XCTAssertEqual(names(listenerFaults["faults"]), [], "aimed at that session alone, not its listener")
            try await eventually("the session's log to show the draw") {
                let shown = try await api.get(session)
                return self.fault(shown, "slow")?["applied"] as? Bool == true
            }
            let shown = try await api.get(session)
            let entry = try XCTUnwrap(fault(shown, "slow"))
            XCTAssertTrue(shown.text.contains(#""faults":[{"name":"slow","type":"latency","direction":"downstream","applied":true,"at":"#), shown.text)
            XCTAssertEqual(JSONKeyOrder.topLevelKeys(shown.text).suffix(2), ["faults", "instance"])
            XCTAssertNotNil((entry["at"] as? String).flatMap { ISO8601DateFormatter.withFractions.date(from: $0) }, "\(entry)")

            // A changed fault is drawn again, and the draw is logged as well.
            let changed = try await api.patch("\(session)/faults/slow", json: #"{"toxicity":0}"#)
            XCTAssertEqual(changed.status, 200, changed.text)
            try await eventually("the second draw in the log") {
                let log = (try await api.get(session))["faults"] as? [[String: Any]] ?? []
                return log.count == 2 && log[1]["applied"] as? Bool == false
            }
            let removed = try await api.delete("\(session)/faults/slow")
            XCTAssertEqual(removed.status, 200, removed.text)

            let closed = try await api.delete(session)
            XCTAssertEqual(closed.status, 200, closed.text)
            try await peer.waitForClose()
            let refused = try await api.post("\(session)/faults", json: #"{"type":"latency"}"#)
            XCTAssertEqual(refused.status, 409, refused.text)
            XCTAssertEqual(refused.errorCode, "session_closed")
            let still = try await api.get("\(session)/faults")
            XCTAssertEqual(still.status, 200, "a closed session's faults stay readable: \(still.text)")
        }
    }

    func testOutboundAndReconnectingSessionsTakeFaults() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        try await withAPI { api, switchboard in
            let outbound = try await api.post("/v1/sessions", json: #"{"connect":"127.0.0.1:\#(upstream.port)","faults":[{"type":"latency","attributes":{"latency":1}}]}"#)
            XCTAssertEqual(outbound.status, 201, outbound.text)
            XCTAssertEqual(fault(outbound, "latency_downstream")?["applied"] as? Bool, true, "created with it: \(outbound.text)")
            let id = try XCTUnwrap(outbound["id"] as? String)
            let own = try await api.get("/v1/sessions/\(id)/faults")
            XCTAssertEqual(names(own["faults"]), ["latency_downstream"], "an outbound session's faults are its own")

            let created = try await api.post("/v1/sessions", json: #"""
                {"name":"plc","connect":"127.0.0.1:\#(upstream.port)","reconnect":{},"faults":[{"name":"slow","type":"latency","attributes":{"latency":1}}]}
                """#)
            XCTAssertEqual(created.status, 201, created.text)
            XCTAssertEqual(names(created["faults"]), ["slow"], created.text)
            XCTAssertEqual(JSONKeyOrder.topLevelKeys(created.text).suffix(2), ["faults", "session"])
            let first = try XCTUnwrap(created["session"] as? [String: Any], created.text)
            XCTAssertEqual(names(first["faults"]), ["slow"], "its connection met the fault: \(created.text)")

            let added = try await api.post("/v1/sessions/plc/faults", json: #"{"type":"slicer","attributes":{"average_size":10}}"#)
            XCTAssertEqual(added.status, 201, added.text)
            let list = try await api.get("/v1/sessions/plc/faults")
            XCTAssertEqual(names(list["faults"]), ["slow", "slicer_downstream"])
            let status = try await api.get("/v1/sessions?name=plc")
            XCTAssertEqual(names((status["reconnecting"] as? [[String: Any]])?.first?["faults"]), ["slow", "slicer_downstream"], status.text)
            try await eventually("the live connection to meet the added fault") {
                let live = switchboard.sessions(.init(state: .open, name: "plc")).first
                return live?.faults.contains { $0.name == "slicer_downstream" && $0.applied } == true
            }
            let changed = try await api.patch("/v1/sessions/plc/faults/slow", json: #"{"attributes":{"latency":2}}"#)
            XCTAssertEqual(changed["attributes"] as? [String: Int], ["latency": 2, "jitter": 0], changed.text)
            let removed = try await api.delete("/v1/sessions/plc/faults/slicer_downstream")
            XCTAssertEqual(removed.status, 200, removed.text)
            let stopped = try await api.delete("/v1/sessions?name=plc")
            XCTAssertEqual(stopped.status, 200, stopped.text)
            let gone = try await api.get("/v1/sessions/plc/faults")
            XCTAssertEqual(gone.status, 404, "a stopped reconnecting session is no target: \(gone.text)")
        }
    }

    /// Two faults on one listener, one of them never applying (toxicity 0): the history finds
    /// the sessions the other applied to, and only those, and shows each one's draws.
    func testTheHistoryFindsTheSessionsAFaultAppliedTo() async throws {
        try await withAPIContext { api, context in
            let hit = try await api.post("/v1/listeners", json: #"""
                {"name":"hit","address":"127.0.0.1:0","mode":"echo","faults":[
                  {"name":"slow","type":"latency","attributes":{"latency":1}},{"name":"never","type":"blackhole","toxicity":0}]}
                """#)
            XCTAssertEqual(hit.status, 201, hit.text)
            let miss = try await api.post("/v1/listeners", json: #"{"name":"miss","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(miss.status, 201, miss.text)
            for port in [port(of: hit), port(of: hit), port(of: miss)] {
                let peer = try await TestConnection.connect(port: port)
                try await peer.send("ping")
                _ = try await peer.read(atLeast: 4)
                await peer.close()
            }
            try await eventually("every session closed") { context.switchboard.counts.openSessions == 0 }
            let written = await context.writer.waitUntilWritten()
            XCTAssertTrue(written)

            let found = try await api.get("/v1/history?fault=slow")
            XCTAssertEqual(found.status, 200, found.text)
            let rows = try XCTUnwrap(found["sessions"] as? [[String: Any]])
            XCTAssertEqual(rows.count, 2, found.text)
            XCTAssertTrue(rows.allSatisfy { $0["listener"] as? String == "hit" }, found.text)
            for row in rows {
                let log = try XCTUnwrap(row["faults"] as? [[String: Any]])
                XCTAssertEqual(log.map { $0["name"] as? String }, ["slow", "never"], "every draw, applied or not")
                XCTAssertEqual(log.map { $0["applied"] as? Bool }, [true, false])
            }
            let never = try await api.get("/v1/history?fault=never")
            XCTAssertEqual((never["sessions"] as? [Any])?.count, 0, "met, but never applied: \(never.text)")
            let nothing = try await api.get("/v1/history?fault=nothing")
            XCTAssertEqual((nothing["sessions"] as? [Any])?.count, 0, nothing.text)
            let both = try await api.get("/v1/history?fault=slow&listener=miss")
            XCTAssertEqual((both["sessions"] as? [Any])?.count, 0, both.text)
            let all = try await api.get("/v1/history")
            let untouched = (all["sessions"] as? [[String: Any]] ?? []).filter { $0["listener"] as? String == "miss" }
            XCTAssertEqual(untouched.count, 1)
            XCTAssertEqual((untouched.first?["faults"] as? [Any])?.count, 0, "a session no fault met has an empty log")

            let id = try XCTUnwrap(rows.first?["id"] as? String)
            let one = try await api.get("/v1/history/\(id)")
            XCTAssertEqual(names(one["faults"]), ["slow", "never"], one.text)
            let ndjson = try await api.get("/v1/history?fault=slow&format=ndjson")
            XCTAssertEqual(ndjson.text.split(separator: "\n").count, 2, ndjson.text)
            let csv = try await api.get("/v1/history?fault=slow&format=csv")
            let lines = csv.text.split(separator: "\r\n")
            XCTAssertTrue(lines.first?.hasSuffix(",capture_truncated,faults,instance") == true, csv.text)
            XCTAssertEqual(lines.count, 3, csv.text)
            XCTAssertTrue(lines[1].contains(#""[{""name"":""slow"",""type"":""latency"",""direction"":""downstream"",""applied"":true"#), csv.text)
        }
    }

    func testEventsAndMetricsShowWhatFaultsDid() async throws {
        try await withAPIContext { api, context in
            let created = try await api.post("/v1/listeners", json: #"{"name":"ev","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(created.status, 201, created.text)
            let stream = try await EventStreamClient.open(port: api.port, "/v1/events?listener=ev")
            defer { Task { await stream.close() } }

            let added = try await api.post("/v1/listeners/ev/faults", json: #"{"name":"slow","type":"latency","attributes":{"latency":20}}"#)
            XCTAssertEqual(added.status, 201, added.text)
            let addedEvent = try await stream.waitForEvent("fault.added")
            XCTAssertEqual(addedEvent["target"] as? String, "listener", addedEvent.data)
            XCTAssertEqual(addedEvent["listener"] as? String, "ev", addedEvent.data)
            XCTAssertTrue(addedEvent.data.contains(#""session_id":null"#), addedEvent.data)
            XCTAssertEqual((addedEvent["fault"] as? [String: Any])?["name"] as? String, "slow", addedEvent.data)
            XCTAssertEqual(JSONKeyOrder.topLevelKeys(addedEvent.data), ["target", "listener", "session_id", "name", "fault", "at"])

            let changed = try await api.patch("/v1/listeners/ev/faults/slow", json: #"{"attributes":{"latency":10}}"#)
            XCTAssertEqual(changed.status, 200, changed.text)
            let changedEvent = try await stream.waitForEvent("fault.changed")
            XCTAssertEqual(((changedEvent["fault"] as? [String: Any])?["attributes"] as? [String: Int])?["latency"], 10, changedEvent.data)

            let peer = try await TestConnection.connect(port: port(of: created))
            try await peer.send("hello")
            _ = try await peer.read(atLeast: 5)
            let applied = try await stream.waitForEvent("fault.applied")
            XCTAssertEqual(applied["listener"] as? String, "ev", applied.data)
            let sessionID = try XCTUnwrap(context.switchboard.sessions(.init(listener: "ev")).first?.id.rawValue)
            XCTAssertEqual(applied["session_id"] as? String, sessionID, applied.data)
            let entry = try XCTUnwrap(applied["fault"] as? [String: Any], applied.data)
            XCTAssertEqual(entry["name"] as? String, "slow")
            XCTAssertEqual(entry["applied"] as? Bool, true)
            await peer.close()

            let removed = try await api.delete("/v1/listeners/ev/faults/slow")
            XCTAssertEqual(removed.status, 200, removed.text)
            let removedEvent = try await stream.waitForEvent("fault.removed")
            XCTAssertEqual((removedEvent["fault"] as? [String: Any])?["name"] as? String, "slow", removedEvent.data)

            let scraped = try await api.get("/metrics")
            let text = scraped.text
            XCTAssertTrue(text.contains(#"switchboard_faults_applied_total{type="latency"} 1"#), text)
            XCTAssertTrue(text.contains("# HELP switchboard_faults_applied_total "), text)
            try await eventually("the bytes latency held back to be counted") {
                let metrics = try await api.get("/metrics").text
                let line = metrics.split(separator: "\n").first { $0.hasPrefix(#"switchboard_fault_bytes_total{type="latency",effect="delayed"}"#) }
                return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0 >= 5
            }
            let after = try await api.get("/metrics").text
            XCTAssertTrue(after.contains("# HELP switchboard_fault_bytes_total "), after)
        }
    }
}
