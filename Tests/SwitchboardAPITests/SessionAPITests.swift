import Foundation
import SwitchboardTestSupport
import XCTest

final class SessionAPITests: XCTestCase {
    /// A hold listener, a peer connected to it, and the id of the session it became.
    private func heldSession(_ api: HTTPClient) async throws -> (TestConnection, String) {
        let created = try await api.post("/v1/listeners", json: #"{"name":"hold","address":"127.0.0.1:0","mode":"hold"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let port = Int((created["address"] as! String).split(separator: ":").last!)!
        let peer = try await TestConnection.connect(port: port)
        var id: String?
        try await eventually("the session to be listed") {
            let sessions = try await api.get("/v1/sessions?listener=hold")["sessions"] as? [[String: Any]]
            id = sessions?.first?["id"] as? String
            return id != nil
        }
        return (peer, id!)
    }

    func testOutboundSessionSendsReadsAndCloses() async throws {
        try await withAPI { api, _ in
            let created = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
            let address = created["address"] as! String
            let opened = try await api.post("/v1/sessions", json: #"{"connect":"\#(address)","name":"probe","send":"Hello, Server!"}"#)
            XCTAssertEqual(opened.status, 201, opened.text)
            XCTAssertEqual(opened["role"] as? String, "client")
            XCTAssertEqual(opened["name"] as? String, "probe")
            XCTAssertEqual(opened["state"] as? String, "open")
            XCTAssertEqual(opened["remote_address"] as? String, address)
            XCTAssertTrue(try opened.json.keys.contains("closed_at"), "absent values are null, not missing")
            let id = try XCTUnwrap(opened["id"] as? String)

            var messages: [[String: Any]] = []
            try await eventually("the echo to come back") {
                messages = try await api.get("/v1/sessions/\(id)/messages?wait=5")["messages"] as? [[String: Any]] ?? []
                return messages.count == 2
            }
            XCTAssertEqual(messages.map { $0["direction"] as? String }, ["out", "in"])
            XCTAssertEqual(messages.map { $0["data"] as? String }, ["Hello, Server!", "Hello, Server!"])
            XCTAssertEqual(messages.map { $0["seq"] as? Int }, [1, 2])

            let sent = try await api.post("/v1/sessions/\(id)/send", json: #"{"data":"again"}"#)
            XCTAssertEqual(sent.status, 200, sent.text)
            XCTAssertEqual(sent["bytes_sent"] as? Int, 5)
            let more = try await api.get("/v1/sessions/\(id)/messages?after=2&wait=5")
            XCTAssertEqual((more["messages"] as? [[String: Any]])?.first?["data"] as? String, "again")

            let clash = try await api.post("/v1/sessions", json: #"{"connect":"\#(address)","name":"probe"}"#)
            XCTAssertEqual(clash.status, 409)
            XCTAssertEqual(clash.errorCode, "name_taken")

            let closed = try await api.delete("/v1/sessions/\(id)")
            XCTAssertEqual(closed.status, 200)
            XCTAssertEqual(closed["state"] as? String, "closed")
            XCTAssertEqual(closed["close_reason"] as? String, "local")
            XCTAssertNotNil(closed["closed_at"] as? String)

            let late = try await api.post("/v1/sessions/\(id)/send", json: #"{"data":"late"}"#)
            XCTAssertEqual(late.status, 409)
            XCTAssertEqual(late.errorCode, "session_closed")

            let closedList = try await api.get("/v1/sessions?state=closed&role=client")
            XCTAssertEqual((closedList["sessions"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, [id])
            let info = try await api.get("/v1/info")
            XCTAssertEqual(info["listeners"] as? Int, 1)
            XCTAssertGreaterThanOrEqual(info["total_sessions"] as? Int ?? 0, 2)
        }
    }

    func testBinaryDataRoundTripsThroughHexAndBase64() async throws {
        try await withAPI { api, _ in
            let (peer, id) = try await heldSession(api)
            let bytes: [UInt8] = [0x00, 0xFF, 0xC3, 0x28, 0x0A, 0x00]
            try await peer.send(bytes)
            var page: HTTPResult!
            try await eventually("the bytes to arrive") {
                page = try await api.get("/v1/sessions/\(id)/messages?wait=5")
                return (page["messages"] as? [[String: Any]])?.isEmpty == false
            }
            let auto = (page["messages"] as! [[String: Any]])[0]
            XCTAssertEqual(auto["encoding"] as? String, "base64", "invalid UTF-8 is never shown as text")
            XCTAssertEqual(Data(base64Encoded: auto["data"] as! String).map(Array.init), bytes)
            let hex = try await api.get("/v1/sessions/\(id)/messages?encoding=hex")
            XCTAssertEqual(((hex["messages"] as? [[String: Any]])?[0])?["data"] as? String, "00ffc3280a00")

            let viaHex = try await api.post("/v1/sessions/\(id)/send", json: #"{"data":"00ffc3280a00","encoding":"hex"}"#)
            XCTAssertEqual(viaHex.status, 200, viaHex.text)
            let viaBase64 = try await api.post("/v1/sessions/\(id)/send", json: #"{"data":"AP/DKAoA","encoding":"base64"}"#)
            XCTAssertEqual(viaBase64.status, 200, viaBase64.text)
            let raw = try await api.request("POST", "/v1/sessions/\(id)/send", body: bytes, contentType: "application/octet-stream")
            XCTAssertEqual(raw.status, 200, raw.text)
            let received = try await peer.read(atLeast: 18)
            XCTAssertEqual(received, bytes + bytes + bytes)

            for bad in [#"{"data":"0g","encoding":"hex"}"#, #"{"data":"abc","encoding":"hex"}"#, #"{"data":"!!","encoding":"base64"}"#, #"{"data":"x","encoding":"ebcdic"}"#, #"{"data":5}"#, #"{"text":"x"}"#] {
                let result = try await api.post("/v1/sessions/\(id)/send", json: bad)
                XCTAssertEqual(result.status, 400, "\(bad) → \(result.text)")
            }
        }
    }

    func testSessionsAPIRefusesWhatItCannotDo() async throws {
        try await withAPI { api, _ in
            let unknown = try await api.get("/v1/sessions/01ARZ3NDEKTSV4RRFFQ69G5FAV")
            XCTAssertEqual(unknown.status, 404)
            XCTAssertEqual(unknown.errorCode, "not_found")
            let garbage = try await api.get("/v1/sessions/not-an-id")
            XCTAssertEqual(garbage.status, 404)
            let garbageSend = try await api.post("/v1/sessions/not-an-id/send", json: #"{"data":"x"}"#)
            XCTAssertEqual(garbageSend.status, 404)

            // Nothing listens on a port that a listener just gave back.
            let made = try await api.post("/v1/listeners", json: #"{"name":"gone","address":"127.0.0.1:0","mode":"echo"}"#)
            let address = made["address"] as! String
            _ = try await api.delete("/v1/listeners/gone")
            let refused = try await api.post("/v1/sessions", json: #"{"connect":"\#(address)"}"#)
            XCTAssertEqual(refused.status, 502, refused.text)
            XCTAssertEqual(refused.errorCode, "connect_failed")

            for (body, code) in [
                (#"{"connect":"127.0.0.1"}"#, "invalid_value"),
                (#"{"connect":"127.0.0.1:0"}"#, "invalid_value"),
                (#"{"connect":"127.0.0.1:1","connect_timeout_ms":0}"#, "invalid_value"),
                (#"{"connect":"127.0.0.1:1","connect_timeout_ms":"soon"}"#, "invalid_type"),
                (#"{"connect":"127.0.0.1:1","encoding":"hex"}"#, "invalid_value"),
                (#"{"connect":"127.0.0.1:1","name":"a/b"}"#, "invalid_value"),
                (#"{"connect":"127.0.0.1:1","listen":true}"#, "unknown_field"),
                (#"{}"#, "missing_field"),
            ] {
                let result = try await api.post("/v1/sessions", json: body)
                XCTAssertEqual(result.status, 400, "\(body) → \(result.text)")
                XCTAssertEqual(result.errorCode, code, "\(body) → \(result.text)")
            }
            for query in ["state=half", "role=peer", "colour=red"] {
                let result = try await api.get("/v1/sessions?\(query)")
                XCTAssertEqual(result.status, 400, query)
            }
            for query in ["wait=61", "wait=-1", "wait=soon", "after=-3", "encoding=rot13"] {
                let (peer, id) = try await heldSessionOnce(api)
                _ = peer
                let result = try await api.get("/v1/sessions/\(id)/messages?\(query)")
                XCTAssertEqual(result.status, 400, "\(query) → \(result.text)")
            }
        }
    }

    private var held: (TestConnection, String)?
    private func heldSessionOnce(_ api: HTTPClient) async throws -> (TestConnection, String) {
        if let held { return held }
        held = try await heldSession(api)
        return held!
    }

    func testResetAndPeerCloseAreRecorded() async throws {
        try await withAPI { api, _ in
            let (peer, id) = try await heldSession(api)
            let reset = try await api.delete("/v1/sessions/\(id)?reset=true")
            XCTAssertEqual(reset.status, 200)
            try await peer.waitForClose()

            let second = try await TestConnection.connect(port: Int(((try await api.get("/v1/listeners/hold"))["address"] as! String).split(separator: ":").last!)!)
            try await eventually("a second session") {
                ((try await api.get("/v1/sessions?listener=hold&state=open"))["sessions"] as? [Any])?.count == 1
            }
            let open = try await api.get("/v1/sessions?listener=hold&state=open")
            let secondID = try XCTUnwrap((open["sessions"] as? [[String: Any]])?.first?["id"] as? String, open.text)
            await second.close()
            // A hold session outlives its client's FIN (it may be a half-close awaiting an
            // answer); the peer ended first, so that is the reason when the operator closes it.
            let finished = try await api.get("/v1/sessions/\(secondID)/messages?wait=30")
            XCTAssertEqual(finished["peer_finished"] as? Bool, true, finished.text)
            XCTAssertEqual(finished["session_state"] as? String, "open")
            let closed = try await api.delete("/v1/sessions/\(secondID)")
            XCTAssertEqual(closed["close_reason"] as? String, "peer", closed.text)
        }
    }

    func testLongPollWakesOnDataAndOnClose() async throws {
        try await withAPI { api, _ in
            let (peer, id) = try await heldSession(api)
            async let waiting = api.get("/v1/sessions/\(id)/messages?wait=30")
            try await Task.sleep(for: .milliseconds(50))
            try await peer.send("wake up")
            let woke = try await waiting
            XCTAssertEqual(((woke["messages"] as? [[String: Any]])?.first)?["data"] as? String, "wake up")
            let next = try XCTUnwrap(woke["next"] as? Int)

            async let waitingForClose = api.get("/v1/sessions/\(id)/messages?after=\(next)&wait=30")
            try await Task.sleep(for: .milliseconds(50))
            await peer.close()
            let finished = try await waitingForClose
            XCTAssertEqual(finished["peer_finished"] as? Bool, true, finished.text)
            XCTAssertEqual((finished["messages"] as? [Any])?.count, 0)

            _ = try await api.delete("/v1/sessions/\(id)")
            let closed = try await api.get("/v1/sessions/\(id)/messages?after=\(next)&wait=30")
            XCTAssertEqual(closed["session_state"] as? String, "closed")
        }
    }

    func testHealthAndInfo() async throws {
        try await withAPI { api, _ in
            let health = try await api.get("/healthz")
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(health["status"] as? String, "ok")
            // The root says where to go next, instead of a 404.
            let index = try await api.get("/")
            XCTAssertEqual(index.status, 200, index.text)
            XCTAssertEqual(index["openapi"] as? String, "/v1/openapi.json")
            XCTAssertEqual(index["version"] as? String, "0.1.0")
            let document = try await api.get(try XCTUnwrap(index["openapi"] as? String))
            XCTAssertEqual(document.status, 200)
            let odd = try await api.get("/?verbose")
            XCTAssertEqual(odd.errorCode, "unknown_parameter", odd.text)
            let info = try await api.get("/v1/info")
            XCTAssertEqual(info["version"] as? String, "0.1.0")
            XCTAssertNotNil(info["uptime_seconds"] as? Double)
            XCTAssertEqual(info["api"] as? String, "127.0.0.1:\(api.port)")
        }
    }
}
