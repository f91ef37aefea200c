import Foundation
import SwitchboardTestSupport
import XCTest

/// What the API's HTTP/1.1 promises a client at the edges: 100 Continue, Host, CONNECT,
/// malformed chunked bodies, clients that leave while answered, and a short `/readyz` reason.
final class HTTPDetailsTests: XCTestCase {
    func testExpectContinueIsAnsweredBeforeTheBodyAndARefusalInsteadOfIt() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        let (id, _) = try await heldSession(api)
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 2000)
        let head = "POST /v1/sessions/\(id)/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: \(body.count)\r\nExpect: 100-continue\r\n\r\n"

        // curl sends the head, then waits (a second) for the 100 before the body.
        let client = try await TestConnection.connect(port: api.port)
        defer { Task { await client.close() } }
        try await client.send(head)
        let interim = "HTTP/1.1 100 Continue\r\n\r\n"
        try await client.read(atLeast: interim.utf8.count, timeout: .seconds(5))
        XCTAssertEqual(client.receivedText, interim)
        try await client.send(body)
        try await eventually("the answer after the body") { client.receivedText.contains("bytes_sent") }
        XCTAssertTrue(client.receivedText.dropFirst(interim.count).hasPrefix("HTTP/1.1 200 "), client.receivedText)
        XCTAssertTrue(client.receivedText.contains(#""bytes_sent":2000"#), client.receivedText)

        // Too large by its Content-Length: the 413 at once, and no 100 that would invite the body.
        let large = try await TestConnection.connect(port: api.port)
        defer { Task { await large.close() } }
        try await large.send("POST /v1/sessions/\(id)/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n")
        try await eventually("the 413", timeout: .seconds(5)) { large.receivedText.contains("\r\n\r\n") }
        XCTAssertTrue(large.receivedText.hasPrefix("HTTP/1.1 413 "), large.receivedText)

        // HTTP/1.0 has no 100 (RFC 9110 section 10.1.1): the expectation is ignored.
        let old = try await TestConnection.connect(port: api.port)
        defer { Task { await old.close() } }
        try await old.send("POST /v1/sessions/\(id)/send HTTP/1.0\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        try await old.send("abc")
        try await old.waitForClose()
        XCTAssertTrue(old.receivedText.hasPrefix("HTTP/1.1 200 "), old.receivedText)
    }

    func testHTTP11NeedsExactlyOneHost() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        let missing = try await api.raw(Array("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".utf8), timeout: .seconds(5))
        XCTAssertEqual(missing.status, 400, missing.text)
        XCTAssertEqual(missing.errorCode, "bad_request")
        XCTAssertEqual(missing.header("Content-Length"), "\(missing.body.count)")
        XCTAssertTrue(missing.text.contains("Host"), missing.text)

        let twice = try await api.raw(Array("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n".utf8), timeout: .seconds(5))
        XCTAssertEqual(twice.status, 400, twice.text)
        XCTAssertEqual(twice.errorCode, "bad_request")

        // HTTP/1.0 needs none: load balancers' health checks send none.
        let old = try await api.raw(Array("GET /healthz HTTP/1.0\r\nConnection: close\r\n\r\n".utf8), timeout: .seconds(5))
        XCTAssertEqual(old.status, 200, old.text)

        // A refusal after a pipelined request waits for that request's answer.
        let pipelined = try await api.raw(Array("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n".utf8), timeout: .seconds(5))
        XCTAssertEqual(pipelined.status, 200, pipelined.text)
        XCTAssertTrue(pipelined.text.hasPrefix("{\"status\":\"ok\"}\nHTTP/1.1 400 "), pipelined.text)
    }

    func testConnectIsRefusedAtOnceWithACompleteAnswer() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        // Well within the 10 s request timeout that used to end it.
        let started = ContinuousClock.now
        let refused = try await service.api.raw(Array("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".utf8), timeout: .seconds(5))
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
        XCTAssertEqual(refused.status, 405, refused.text)
        XCTAssertEqual(refused.errorCode, "method_not_allowed")
        XCTAssertEqual(refused.header("Content-Length"), "\(refused.body.count)")
        XCTAssertEqual(refused.header("Allow"), "DELETE, GET, PATCH, POST")
        XCTAssertEqual(refused.header("Connection"), "close")
    }

    func testAMalformedChunkedBodyIsABadRequestThatSaysWhy() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        for body in ["zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcXX\r\n0\r\n\r\n"] {
            let answer = try await api.raw(Array("POST /v1/listeners HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n\(body)".utf8), timeout: .seconds(5))
            XCTAssertEqual(answer.status, 400, answer.text)
            XCTAssertEqual(answer.errorCode, "bad_request", answer.text)
            let message = (try answer.json["error"] as? [String: Any])?["message"] as? String ?? ""
            XCTAssertTrue(message.hasPrefix("malformed chunked body: "), message)
            XCTAssertFalse(message.contains("strict mode"), message)
        }
    }

    func testAbandonedLongPollsFreeTheirSlotsOverTCP() async throws {
        let service = try await ServiceProcess.start(["--max-long-polls", "1"])
        defer { Task { await service.stop() } }
        try await assertAbandonedLongPollsFreeTheirSlots(service.api)
    }

    func testAbandonedLongPollsFreeTheirSlotsOverAUnixSocket() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-unix-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let socket = folder.appendingPathComponent("api.sock").path
        let service = try ServiceProcess(arguments: ["serve", "--api", "unix:\(socket)", "--max-long-polls", "1", "--db", folder.appendingPathComponent("h.sqlite3").path], directory: folder)
        defer { Task { await service.stop() } }
        try await eventually("the API socket") { service.output.contains("control API listening on unix:\(socket)") }
        try await assertAbandonedLongPollsFreeTheirSlots(HTTPClient(unixPath: socket))
    }

    func testAbandonedLongPollsFreeTheirSlotsOnAnInheritedSocket() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-activation-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // The listening socket bound by a wrapper and passed as systemd passes it.
        let service = try ServiceProcess(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: ["python3", try ServiceProcess.socketActivationWrapper(in: folder), ServiceProcess.binary.path, "serve", "--max-long-polls", "1", "--db", folder.appendingPathComponent("h.sqlite3").path],
            directory: folder
        )
        defer { Task { await service.stop() } }
        try await eventually("the API on the inherited socket:\n\(service.output)") { service.apiPort != nil || !service.process.isRunning }
        XCTAssertTrue(service.output.contains("serving the API on the socket systemd passed"), service.output)
        try await assertAbandonedLongPollsFreeTheirSlots(service.api)
    }

    /// Root ignores file modes: the immutable attribute makes the history file read-only.
    func testReadyzGivesAShortReasonWhenHistoryWritesFail() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        let created = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
        let port = Int((created["address"] as! String).split(separator: ":").last!)!
        let files = [service.historyFile, service.historyFile + "-wal"]
        guard try chattr("+i", files) else { throw XCTSkip("chattr +i is not supported on this file system") }
        defer { _ = try? chattr("-i", files) }
        var ready = try await api.get("/readyz")
        try await eventually("/readyz to report the failing writes") {
            let peer = try await TestConnection.connect(port: port)
            try await peer.send("ping")
            try await peer.read(atLeast: 4)
            await peer.close()
            ready = try await api.get("/readyz")
            return ready.status == 503
        }
        let reason = (try ready.json["error"] as? [String: Any])?["message"] as? String ?? ""
        XCTAssertTrue(reason.hasPrefix("history writes are failing: SQLite error "), reason)
        // Was "... disk I/O error - while executing `COMMIT TRANSACTION`" (or the whole INSERT).
        XCTAssertFalse(reason.contains("while executing") || reason.contains("`"), "no SQL in the reason: \(reason)")
        XCTAssertLessThan(reason.count, 200, reason)
    }

    // MARK: - Helpers

    /// With --max-long-polls 1, a long-poll takes a session's one slot; its client leaves, with a
    /// FIN and then with a reset, and the slot is free again at once, not after its 60 s wait.
    private func assertAbandonedLongPollsFreeTheirSlots(_ api: HTTPClient, file: StaticString = #filePath, line: UInt = #line) async throws {
        let (id, peer) = try await heldSession(api)
        defer { Task { await peer.close() } }
        // One message in: a probe from before it is answered at once, 200 if admitted, 503 if
        // the slot is taken, and holds the slot for no time.
        try await peer.send("x")
        try await eventually("the message recorded") {
            ((try await api.get("/v1/sessions/\(id)/messages"))["messages"] as? [Any])?.count == 1
        }
        let probe = "/v1/sessions/\(id)/messages?after=0&wait=60"
        let poll = "GET /v1/sessions/\(id)/messages?after=1&wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        for leave in [{ (client: TestConnection) in await client.close() }, { (client: TestConnection) in await client.reset() }] {
            let client = try await occupy(api, with: poll, probe: probe)
            await leave(client)
            try await eventually("the slot freed once the client left", timeout: .seconds(10)) {
                (try await api.get(probe, timeout: .seconds(5))).status == 200
            }
        }
    }

    /// Sends `poll` on a connection of its own until it holds the slot: a probe arriving at
    /// the same moment may have had it, and then the poll was refused.
    private func occupy(_ api: HTTPClient, with poll: String, probe: String) async throws -> TestConnection {
        while true {
            let client = try await connect(api)
            try await client.send(poll)
            try await eventually("the poll waiting or refused") {
                if client.receivedCount > 0 { return true }
                return try await api.get(probe, timeout: .seconds(5)).status == 503
            }
            if client.receivedCount == 0 { return client }
            await client.close()
        }
    }

    private func connect(_ api: HTTPClient) async throws -> TestConnection {
        if let path = api.unixPath { return try await TestConnection.connect(unixPath: path) }
        return try await TestConnection.connect(port: api.port)
    }

    /// A session of a `hold` listener: nothing arrives on it unless the test sends.
    private func heldSession(_ api: HTTPClient) async throws -> (String, TestConnection) {
        let hold = try await api.post("/v1/listeners", json: #"{"name":"hold","address":"127.0.0.1:0","mode":"hold"}"#)
        XCTAssertEqual(hold.status, 201, hold.text)
        let port = Int((hold["address"] as! String).split(separator: ":").last!)!
        let peer = try await TestConnection.connect(port: port)
        var id = ""
        try await eventually("the held session") {
            id = ((try await api.get("/v1/sessions?listener=hold"))["sessions"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            return !id.isEmpty
        }
        return (id, peer)
    }
}
