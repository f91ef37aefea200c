import SwitchboardTestSupport
import XCTest

final class ListenerAPITests: XCTestCase {
    func testCreateListShowDelete() async throws {
        try await withAPI { api, _ in
            let created = try await api.post("/v1/listeners", json: #"{"name":"greeter","address":"127.0.0.1:0","mode":"reply","reply":"Hello from server!"}"#)
            XCTAssertEqual(created.status, 201, created.text)
            XCTAssertEqual(created["name"] as? String, "greeter")
            XCTAssertEqual(created["mode"] as? String, "reply")
            XCTAssertEqual(created["reply"] as? String, "Hello from server!")
            XCTAssertEqual(created["requested_address"] as? String, "127.0.0.1:0")
            let address = try XCTUnwrap(created["address"] as? String)
            XCTAssertFalse(address.hasSuffix(":0"), "the bound port is reported")
            XCTAssertNotNil((created["created_at"] as? String).flatMap { ISO8601DateFormatter.withFractions.date(from: $0) })

            let list = try await api.get("/v1/listeners")
            XCTAssertEqual(list.status, 200)
            XCTAssertEqual((list["listeners"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["greeter"])

            let port = Int(address.split(separator: ":").last!)!
            let peer = try await TestConnection.connect(port: port)
            try await peer.send("Hello, Server!")
            try await peer.read(atLeast: 18)
            try await eventually("the listener to count the session") {
                (try await api.get("/v1/listeners/greeter"))["total_sessions"] as? Int == 1
            }
            let shown = try await api.get("/v1/listeners/greeter")
            XCTAssertEqual(shown["bytes_in"] as? Int, 14)
            XCTAssertEqual(shown["bytes_out"] as? Int, 18)
            XCTAssertEqual(shown["open_sessions"] as? Int, 1)

            let deleted = try await api.delete("/v1/listeners/greeter?close_sessions=true")
            XCTAssertEqual(deleted.status, 200, deleted.text)
            XCTAssertEqual(deleted["state"] as? String, "stopped")
            try await peer.waitForClose()
            let gone = try await api.get("/v1/listeners/greeter")
            XCTAssertEqual(gone.status, 404)
        }
    }

    func testReplyEncodingsRoundTripBinary() async throws {
        try await withAPI { api, _ in
            for (encoding, text) in [("hex", "00ff0a80"), ("base64", "AP8KgA==")] {
                let created = try await api.post("/v1/listeners", json: #"{"name":"bin-\#(encoding)","address":"127.0.0.1:0","mode":"reply","reply":"\#(text)","reply_encoding":"\#(encoding)","close_after_reply":true}"#)
                XCTAssertEqual(created.status, 201, created.text)
                XCTAssertEqual(created["reply_encoding"] as? String, "base64", "bytes that are not UTF-8 are shown in base64")
                let port = Int((created["address"] as! String).split(separator: ":").last!)!
                let peer = try await TestConnection.connect(port: port)
                try await peer.send("x")
                try await peer.waitForClose()
                XCTAssertEqual(peer.received, [0x00, 0xFF, 0x0A, 0x80])
            }
        }
    }

    func testEveryBadRequestGetsItsOwnError() async throws {
        try await withAPI { api, _ in
            let cases: [(String, Int, String)] = [
                (#"{"name":"a","name":"b","address":"127.0.0.1:0","mode":"echo"}"#, 400, "duplicate_key"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"echo","colour":"red"}"#, 400, "unknown_field"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"echo""#, 400, "malformed_json"),
                (#"[{"name":"a"}]"#, 400, "not_an_object"),
                (#"null"#, 400, "not_an_object"),
                (#"{"name":7,"address":"127.0.0.1:0","mode":"echo"}"#, 400, "invalid_type"),
                (#"{"address":"127.0.0.1:0","mode":"echo"}"#, 400, "missing_field"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"echo","max_sessions":0}"#, 400, "invalid_value"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"echo","max_sessions":1.5}"#, 400, "invalid_type"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"echo","max_sessions":99999999999999999999999}"#, 400, "invalid_value"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"shout"}"#, 400, "invalid_value"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"echo","reply":"x"}"#, 400, "invalid_value"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"reply"}"#, 400, "missing_field"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"reply","reply":"zz","reply_encoding":"hex"}"#, 400, "invalid_value"),
                (#"{"name":"a","address":"127.0.0.1:0","mode":"reply","reply":"x","reply_encoding":"rot13"}"#, 400, "invalid_value"),
                (#"{"name":"a","address":"127.0.0.1:70000","mode":"echo"}"#, 400, "invalid_value"),
                (#"{"name":"a","address":"nowhere","mode":"echo"}"#, 400, "invalid_value"),
                (#"{"name":"a b","address":"127.0.0.1:0","mode":"echo"}"#, 400, "invalid_value"),
                (#"{"name":".a","address":"127.0.0.1:0","mode":"echo"}"#, 400, "invalid_value"),
                (#"{"name":"\#(String(repeating: "n", count: 65))","address":"127.0.0.1:0","mode":"echo"}"#, 400, "invalid_value"),
                (#"{"name":"\ud800","address":"127.0.0.1:0","mode":"echo"}"#, 400, "malformed_json"),
                (String(repeating: #"{"a":"#, count: 40) + "1" + String(repeating: "}", count: 40), 400, "too_deep"),
                ("", 400, "empty_body"),
            ]
            for (body, status, code) in cases {
                let result = try await api.post("/v1/listeners", json: body)
                XCTAssertEqual(result.status, status, "\(body) → \(result.text)")
                XCTAssertEqual(result.errorCode, code, "\(body) → \(result.text)")
                XCTAssertEqual(result.header("Content-Type"), "application/json; charset=utf-8")
                let message = (try? result.json["error"] as? [String: Any])?["message"] as? String
                XCTAssertFalse(message?.isEmpty ?? true, "every error says what is wrong")
            }
            // The duplicate-key error names the key.
            let duplicate = try await api.post("/v1/listeners", json: #"{"name":"a","name":"b"}"#)
            XCTAssertTrue(duplicate.text.contains("'name'"), duplicate.text)
            // Nothing was created by any of them, and the service still answers.
            let listeners = try await api.get("/v1/listeners")
            XCTAssertEqual((listeners["listeners"] as? [Any])?.count, 0)
        }
    }

    func testContentTypesSizesMethodsAndNames() async throws {
        try await withAPI { api, _ in
            let good = #"{"name":"a","address":"127.0.0.1:0","mode":"echo"}"#
            let form = try await api.post("/v1/listeners", json: good, contentType: "application/x-www-form-urlencoded")
            XCTAssertEqual(form.status, 201, "what curl -d sends is read as JSON")
            let text = try await api.post("/v1/listeners", json: good, contentType: "text/plain")
            XCTAssertEqual(text.status, 415)
            XCTAssertEqual(text.errorCode, "unsupported_media_type")

            let huge = try await api.request("POST", "/v1/listeners", body: Array(repeating: UInt8(ascii: " "), count: (1 << 20) + 1))
            XCTAssertEqual(huge.status, 413)
            XCTAssertEqual(huge.errorCode, "body_too_large")

            let taken = try await api.post("/v1/listeners", json: good)
            XCTAssertEqual(taken.status, 409)
            XCTAssertEqual(taken.errorCode, "name_taken")

            let port = ((try await api.get("/v1/listeners/a"))["address"] as! String).split(separator: ":").last!
            let inUse = try await api.post("/v1/listeners", json: #"{"name":"b","address":"127.0.0.1:\#(port)","mode":"echo"}"#)
            XCTAssertEqual(inUse.status, 409)
            XCTAssertEqual(inUse.errorCode, "address_in_use")

            let put = try await api.request("PUT", "/v1/listeners/a")
            XCTAssertEqual(put.status, 405)
            XCTAssertEqual(put.errorCode, "method_not_allowed")
            XCTAssertEqual(put.header("Allow"), "DELETE, GET")

            let missing = try await api.get("/v1/listeners/nope")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorCode, "not_found")
            XCTAssertTrue(missing.text.contains("nope"))

            let nowhere = try await api.get("/v2/whatever")
            XCTAssertEqual(nowhere.status, 404)
            XCTAssertEqual(nowhere.errorCode, "not_found")

            let badQuery = try await api.delete("/v1/listeners/a?close_sessions=maybe")
            XCTAssertEqual(badQuery.status, 400)
            let unknownQuery = try await api.get("/v1/listeners?colour=red")
            XCTAssertEqual(unknownQuery.errorCode, "unknown_parameter")
        }
    }

    func testGarbageOnTheAPIPortNeverStopsIt() async throws {
        try await withAPI { api, _ in
            for junk in ["\u{0}\u{1}\u{2}garbage\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", String(repeating: "A", count: 100_000)] {
                let connection = try await TestConnection.connect(port: api.port)
                try? await connection.send(junk)
                try? await connection.waitForClose(timeout: .seconds(10))
                await connection.close()
            }
            let health = try await api.get("/healthz")
            XCTAssertEqual(health.status, 200)
        }
    }
}

extension ListenerAPITests {
    /// The list keeps its last body while nothing changed (`ListenerListCache`): every change
    /// shows at once, in the compact and the indented answer alike.
    func testTheListShowsEveryChangeAtOnce() async throws {
        try await withAPI { api, _ in
            func listed() async throws -> [[String: Any]] {
                let list = try await api.get("/v1/listeners")
                XCTAssertEqual(list.status, 200, list.text)
                return try XCTUnwrap(list["listeners"] as? [[String: Any]], list.text)
            }
            let none = try await listed()
            XCTAssertEqual(none.count, 0)
            let created = try await api.post("/v1/listeners", json: #"{"name":"e","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(created.status, 201, created.text)
            for _ in 0..<2 {
                let unchanged = try await listed()
                XCTAssertEqual(unchanged.first?["total_sessions"] as? Int, 0, "asked again, unchanged")
            }

            let port = Int((created["address"] as! String).split(separator: ":").last!)!
            let peer = try await TestConnection.connect(port: port)
            try await peer.send("abc")
            try await peer.read(atLeast: 3)
            try await eventually("the list to count the session and its bytes") {
                let first = try await listed().first
                return first?["total_sessions"] as? Int == 1 && first?["bytes_in"] as? Int == 3
            }
            let faulted = try await api.post("/v1/listeners/e/faults", json: #"{"type":"latency","attributes":{"latency":5}}"#)
            XCTAssertEqual(faulted.status, 201, faulted.text)
            let withFault = try await listed()
            XCTAssertEqual((withFault.first?["faults"] as? [[String: Any]])?.count, 1)
            let pretty = try await api.get("/v1/listeners?pretty")
            XCTAssertTrue(pretty.text.contains("\n  \"listeners\": ["), pretty.text)
            let compact = try await listed()
            XCTAssertEqual((compact.first?["faults"] as? [[String: Any]])?.count, 1, "compact after indented")

            let deleted = try await api.delete("/v1/listeners/e?close_sessions=true")
            XCTAssertEqual(deleted.status, 200, deleted.text)
            let gone = try await listed()
            XCTAssertEqual(gone.count, 0)
        }
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
