import Foundation
import Synchronization
import SwitchboardTestSupport
import XCTest

/// The API's limits on the real binary: each has a flag, a default and a refusal in the JSON
/// error shape; slow and idle HTTP clients are disconnected and cannot hold the API hostage.
final class LimitsTests: XCTestCase {
    func testHundredsOfHalfSentRequestsDoNotStopTheAPIAndAreDisconnected() async throws {
        let service = try await ServiceProcess.start(["--request-timeout", "1"])
        defer { Task { await service.stop() } }
        let port = try XCTUnwrap(service.apiPort)
        var stalled: [TestConnection] = []
        for i in 0..<300 {
            let connection = try await TestConnection.connect(port: port)
            // A request head that never ends; some trickle a body that never ends instead.
            if i % 2 == 0 {
                try await connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            } else {
                try await connection.send("POST /v1/listeners HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na")
            }
            stalled.append(connection)
        }
        let health = try await service.api.get("/healthz", timeout: .seconds(5))
        XCTAssertEqual(health.status, 200)
        try await eventually("every stalled connection to be closed by the service", timeout: .seconds(15)) {
            stalled.allSatisfy(\.isClosed)
        }
        // An idle keep-alive connection that never sends anything goes the same way.
        let idle = try await TestConnection.connect(port: port)
        try await idle.waitForClose(timeout: .seconds(10))
        let after = try await service.api.get("/healthz")
        XCTAssertEqual(after.status, 200)
    }

    func testURLHeaderBodyAndDepthLimitsAnswerWithJSONErrors() async throws {
        let service = try await ServiceProcess.start(["--max-url-bytes", "1024", "--max-header-bytes", "2048", "--max-body-bytes", "2048", "--max-json-depth", "4"])
        defer { Task { await service.stop() } }
        let api = service.api

        let longURL = try await api.get("/v1/sessions?name=" + String(repeating: "a", count: 2000))
        XCTAssertEqual(longURL.status, 414, longURL.text)
        XCTAssertEqual(longURL.errorCode, "uri_too_long")

        let bigHeaders = try await api.request("GET", "/v1/info", extraHeaders: [("X-Padding", String(repeating: "p", count: 3000))])
        XCTAssertEqual(bigHeaders.status, 431, bigHeaders.text)
        XCTAssertEqual(bigHeaders.errorCode, "headers_too_large")

        let padded = #"{"name":"a","address":"127.0.0.1:0","mode":"reply","reply":"\#(String(repeating: "r", count: 3000))"}"#
        let bigBody = try await api.post("/v1/listeners", json: padded)
        XCTAssertEqual(bigBody.status, 413, bigBody.text)
        XCTAssertEqual(bigBody.errorCode, "body_too_large")

        let deep = try await api.post("/v1/listeners", json: #"{"name":"a","address":"127.0.0.1:0","mode":"echo","keepalive":{"x":{"y":{"z":1}}}}"#)
        XCTAssertEqual(deep.status, 400, deep.text)
        XCTAssertEqual(deep.errorCode, "too_deep")

        let fine = try await api.post("/v1/listeners", json: #"{"name":"a","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(fine.status, 201, fine.text)
    }

    func testListenerAndLongPollLimits() async throws {
        let service = try await ServiceProcess.start(["--max-listeners", "2", "--max-long-polls", "2"])
        defer { Task { await service.stop() } }
        let api = service.api
        let hold = try await api.post("/v1/listeners", json: #"{"name":"hold","address":"127.0.0.1:0","mode":"hold"}"#)
        XCTAssertEqual(hold.status, 201, hold.text)
        let second = try await api.post("/v1/listeners", json: #"{"name":"b","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(second.status, 201, second.text)
        let third = try await api.post("/v1/listeners", json: #"{"name":"c","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(third.status, 503, third.text)
        XCTAssertEqual(third.errorCode, "limit_reached")
        XCTAssertTrue(third.text.contains("--max-listeners"), third.text)

        let port = Int((hold["address"] as! String).split(separator: ":").last!)!
        let peer = try await TestConnection.connect(port: port)
        var id = ""
        try await eventually("the held session") {
            id = ((try await api.get("/v1/sessions?listener=hold"))["sessions"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            return !id.isEmpty
        }
        // Three long-polls at once: two wait, one is refused (whichever came last).
        let path = "/v1/sessions/\(id)/messages?wait=30"
        let answers = Answers()
        let polls = (0..<3).map { _ in Task { [api] in answers.add(try await api.get(path)) } }
        try await eventually("one long-poll refused") { answers.all.count == 1 }
        XCTAssertEqual(answers.all.first?.status, 503, answers.all.first?.text ?? "")
        XCTAssertEqual(answers.all.first?.errorCode, "limit_reached")
        try await peer.send("wake")
        for poll in polls { try await poll.value }
        XCTAssertEqual(answers.all.map(\.status).sorted(), [200, 200, 503])
        // With none waiting any more, one is admitted again.
        let again = try await api.get("/v1/sessions/\(id)/messages?after=1&wait=1")
        XCTAssertEqual(again.status, 200, again.text)
    }

    private final class Answers: Sendable {
        private let results = Mutex<[HTTPResult]>([])
        func add(_ result: HTTPResult) { results.withLock { $0.append(result) } }
        var all: [HTTPResult] { results.withLock { $0 } }
    }

    func testLimitFlagsAreChecked() async throws {
        for (flag, value) in [("--max-body-bytes", "10"), ("--max-json-depth", "1000"), ("--request-timeout", "0"), ("--max-listeners", "0"), ("--max-long-polls", "-1"), ("--max-unsent-bytes", "0"), ("--history-spool-mb", "99999999")] {
            let (status, output) = try await runSwitchboard(["serve", "--api", "127.0.0.1:0", flag, value])
            XCTAssertNotEqual(status, 0, "\(flag) \(value)")
            XCTAssertTrue(output.contains(flag), "\(flag): \(output)")
        }
    }
}

extension LimitsTests {
    /// Under a small descriptor limit the service keeps a reserve for itself: sessions stop at
    /// --max-sessions' default, the rest are refused and counted, and the API answers and says so.
    func testAtTheFileDescriptorLimitTheAPIStillAnswersAndSaysWhy() async throws {
        raiseOpenFileLimit()
        let service = try await ServiceProcess.start(openFileLimit: 256)
        defer { Task { await service.stop() } }
        let info = try await service.api.get("/v1/info")
        XCTAssertEqual(info["max_sessions"] as? Int, 256 - 64, info.text)
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"held","address":"127.0.0.1:0","mode":"hold"}"#)
        let port = Int((created["address"] as! String).split(separator: ":").last!)!
        var peers: [TestConnection] = []
        for _ in 0..<250 { peers.append(try await TestConnection.connect(port: port)) }
        try await eventually("192 held, 58 refused") {
            let listener = try await service.api.get("/v1/listeners/held")
            return listener["open_sessions"] as? Int == 192 && listener["rejected_sessions"] as? Int == 58
        }
        try await eventually("the refused ones closed") { peers.filter(\.isClosed).count == 58 }
        // The API still has descriptors: it answers, and a new listener can still be made.
        let health = try await service.api.get("/healthz")
        XCTAssertEqual(health.status, 200)
        let another = try await service.api.post("/v1/listeners", json: #"{"name":"more","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(another.status, 201, another.text)
        let outbound = try await service.api.post("/v1/sessions", json: #"{"connect":"127.0.0.1:\#(port)"}"#)
        XCTAssertEqual(outbound.status, 503, outbound.text)
        XCTAssertTrue(outbound.text.contains("session limit"), outbound.text)
        XCTAssertTrue(service.output.contains("max_sessions=192"), "the start-up line says the limit")
    }
}

extension LimitsTests {
    /// A pipelined long-poll behind a quick request is the server's time, not the client's:
    /// answering the first request must not start the idle clock while the second waits.
    func testAPipelinedLongPollOutlivesTheRequestTimeout() async throws {
        let service = try await ServiceProcess.start(["--request-timeout", "1"])
        defer { Task { await service.stop() } }
        let api = service.api
        let hold = try await api.post("/v1/listeners", json: #"{"name":"hold","address":"127.0.0.1:0","mode":"hold"}"#)
        let peer = try await TestConnection.connect(port: Int((hold["address"] as! String).split(separator: ":").last!)!)
        var id = ""
        try await eventually("the held session") {
            id = ((try await api.get("/v1/sessions?listener=hold"))["sessions"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            return !id.isEmpty
        }
        let connection = try await TestConnection.connect(port: try XCTUnwrap(service.apiPort))
        try await connection.send(
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + "GET /v1/sessions/\(id)/messages?wait=10 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        try await eventually("the first answer") { connection.receivedText.contains(#""status":"ok""#) }
        // Past the request timeout while the long-poll waits; then the data it waits for comes.
        try await Task.sleep(for: .milliseconds(1600))
        XCTAssertFalse(connection.isClosed, "closed while an answer was still owed")
        try await peer.send("late")
        try await eventually("the long-poll's answer") { connection.receivedText.contains(#""data":"late""#) }
    }

    /// The idle clock restarts with every answer: a client that keeps asking is never cut,
    /// however long it stays, and is closed once it stops.
    func testAKeepAliveClientThatKeepsAskingIsNotCutAndIsClosedOnceIdle() async throws {
        let service = try await ServiceProcess.start(["--request-timeout", "1"])
        defer { Task { await service.stop() } }
        let connection = try await TestConnection.connect(port: try XCTUnwrap(service.apiPort))
        // 2.8 s of requests 400 ms apart: well past the timeout, never idle for it.
        for i in 1...7 {
            try await connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try await eventually("answer \(i)") { connection.receivedText.components(separatedBy: #""status":"ok""#).count == i + 1 }
            try await Task.sleep(for: .milliseconds(400))
        }
        XCTAssertFalse(connection.isClosed, "a client that kept asking was cut")
        let idleSince = ContinuousClock.now
        try await connection.waitForClose(timeout: .seconds(5))
        XCTAssertGreaterThan(ContinuousClock.now - idleSince, .milliseconds(500), "closed before it was idle for the timeout")
    }

    /// What NIO's HTTP parser cannot read is answered in the JSON error shape too, not with a
    /// bare 400, and the API goes on answering.
    func testUnreadableRequestsGetJSONErrors() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let port = try XCTUnwrap(service.apiPort)
        let cases: [(request: String, status: String, code: String)] = [
            ("GET /v1/info HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 90_000) + "\r\n\r\n", "431", "headers_too_large"),
            ("GARBAGE\r\n\r\n", "400", "bad_request"),
            ("GET /healthz HTTP/1.1\r\nContent-Length: x\r\n\r\n", "400", "bad_request"),
        ]
        for (request, status, code) in cases {
            let connection = try await TestConnection.connect(port: port)
            try await connection.send(request)
            try await connection.waitForClose(timeout: .seconds(5))
            let answer = connection.receivedText
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 \(status) "), answer)
            XCTAssertTrue(answer.contains("application/json"), answer)
            let body = try XCTUnwrap(answer.components(separatedBy: "\r\n\r\n").last)
            let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], answer)
            XCTAssertEqual((parsed["error"] as? [String: Any])?["code"] as? String, code, answer)
        }
        let health = try await service.api.get("/healthz")
        XCTAssertEqual(health.status, 200)
    }

    /// Garbage after a request whose answer is still being written (a live event stream) is
    /// not answered in the middle of that answer: the stream goes on, whole.
    func testGarbageDuringAStreamedAnswerDoesNotSpliceIntoIt() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let connection = try await TestConnection.connect(port: try XCTUnwrap(service.apiPort))
        try await connection.send("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        try await eventually("the stream to open") { connection.receivedText.contains(": switchboard live events") }
        try await connection.send("GARBAGE\r\n\r\n")
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"after-garbage","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        try await eventually("the event after the garbage") { connection.receivedText.contains("after-garbage") }
        XCTAssertFalse(connection.receivedText.contains("HTTP/1.1 400"), connection.receivedText)
    }
}
