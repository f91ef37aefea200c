import Foundation
import NIOCore
import NIOPosix
import Synchronization
import SwitchboardTestSupport
import XCTest

/// What a hostile run broke, each kept broken-proof on the real binary: session slots that
/// leaked when a listener was deleted under load, sends buffered without limit, a forward
/// listener pointed at itself, a stale unix socket after a crash, a hold session cut by the
/// client's half-close, and a reconnecting session that flapped.
final class HostileRunTests: XCTestCase {
    override func setUp() { raiseOpenFileLimit() }

    private func portOf(_ listener: HTTPResult) throws -> Int {
        let address = try XCTUnwrap(listener["address"] as? String, listener.text)
        return try XCTUnwrap(Int(address.split(separator: ":").last!))
    }

    private func openSessions(_ api: HTTPClient) async throws -> Int {
        let info = try await api.get("/v1/info")
        return try XCTUnwrap(info["open_sessions"] as? Int, info.text)
    }

    /// Clients that connect, send a byte, wait for the echo and close, as fast as they can,
    /// until the listener refuses them (or 10 s pass); `made` counts the connections.
    private static func churn(port: Int, clients: Int, made: Counter) async {
        let deadline = ContinuousClock.now + .seconds(10)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        guard let peer = try? await TestConnection.connect(port: port) else { return }
                        made.add()
                        try? await peer.send("x")
                        _ = try? await peer.read(atLeast: 1, timeout: .seconds(1))
                        await peer.close()
                    }
                }
            }
        }
    }

    // Item 1: sessions accepted around the moment their listener is deleted were set up by the
    // core but closed by NIO before they were registered; no handler ever saw them end, so they
    // stayed `open` with no socket and held a slot of --max-sessions each.
    func testDeletingAListenerMidChurnLeavesNoSessionOpenAndNoSlotHeld() async throws {
        let service = try await ServiceProcess.start(["--max-sessions", "200"])
        defer { Task { await service.stop() } }
        let api = service.api
        for cycle in 0..<12 {
            let listener = try await api.post("/v1/listeners", json: #"{"name":"churn","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(listener.status, 201, listener.text)
            let port = try portOf(listener)
            let made = Counter()
            async let churned: Void = Self.churn(port: port, clients: 64, made: made)
            // Deleted mid-churn: once a few hundred connections went through.
            try await eventually("connections to churn") { made.value >= 200 + 10 * cycle }
            let closeSessions = cycle % 2 == 0 ? "true" : "false"
            let deleted = try await api.delete("/v1/listeners/churn?close_sessions=\(closeSessions)")
            XCTAssertEqual(deleted.status, 200, deleted.text)
            await churned
            var open = -1
            try await eventually("no session left open after cycle \(cycle) (\(open) open, \(made.value) made)", timeout: .seconds(5)) {
                open = try await openSessions(api)
                return open == 0
            }
        }
        // The slots are free: a new listener still takes connections.
        let after = try await api.post("/v1/listeners", json: #"{"name":"after","address":"127.0.0.1:0","mode":"echo"}"#)
        let peer = try await TestConnection.connect(port: try portOf(after))
        try await peer.send("ok")
        let echoed = try await peer.read(atLeast: 2)
        XCTAssertEqual(echoed, Array("ok".utf8))
        // And the history agrees, once the writer has caught up: only that client's session is open.
        var stuck: [[String: Any]] = []
        try await eventually("the history to show one open session, not \(stuck.count): \(stuck.prefix(2))") {
            let history = try await api.get("/v1/history?state=open&limit=1000")
            stuck = try XCTUnwrap(history["sessions"] as? [[String: Any]], history.text)
            return stuck.count == 1
        }
    }

    /// A hold listener and one client of it; answers the client (not reading unless told) and
    /// the session's id.
    private func heldSession(_ api: HTTPClient, reading: Bool) async throws -> (TestConnection, String) {
        let listener = try await api.post("/v1/listeners", json: #"{"name":"desk","address":"127.0.0.1:0","mode":"hold"}"#)
        XCTAssertEqual(listener.status, 201, listener.text)
        let peer = try await TestConnection.connect(port: try portOf(listener), receiveBuffer: 16 * 1024, keepBytes: false)
        if !reading { try await peer.stopReading() }
        var id = ""
        try await eventually("the held session") {
            id = (try await api.get("/v1/sessions?listener=desk")["sessions"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            return !id.isEmpty
        }
        return (peer, id)
    }

    private func bytesOut(_ api: HTTPClient, _ id: String) async throws -> Int {
        let session = try await api.get("/v1/sessions/\(id)")
        return try XCTUnwrap(session["bytes_out"] as? Int, session.text)
    }

    // Item 2: sends to a peer that does not read were queued without limit (100 sends of 1 MiB
    // grew the service by 121 MB) and counted in bytes_out before they left.
    func testSendsToAPeerThatDoesNotReadAreBoundedAndCountedWhenTaken() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        let (peer, id) = try await heldSession(api, reading: false)
        let before = try service.residentBytes()
        let body = [UInt8](repeating: 0x62, count: 1 << 20)
        // Eight in flight at a time: what must not stay is the queue, not the bodies of sends
        // read at the same moment (a hundred at once measured 14-76 MiB on a busy machine).
        let answers = await withTaskGroup(of: HTTPResult?.self) { group in
            let send = { @Sendable in
                try? await api.request("POST", "/v1/sessions/\(id)/send", body: body, contentType: "application/octet-stream", timeout: .seconds(2))
            }
            for _ in 0..<8 { group.addTask(operation: send) }
            var answers: [HTTPResult] = []
            var started = 8
            for await answer in group {
                if let answer { answers.append(answer) }
                if started < 100 {
                    started += 1
                    group.addTask(operation: send)
                }
            }
            return answers
        }
        // The accepted sends are still waiting for the peer (their clients gave up after 2 s);
        // every other one was refused at once, saying why.
        let refused = answers.filter { $0.status == 409 }
        XCTAssertGreaterThanOrEqual(refused.count, 90, answers.map(\.status).description)
        XCTAssertTrue(refused.allSatisfy { $0.errorCode == "send_queue_full" }, refused.first?.text ?? "")
        let grown = try service.residentBytes() - before
        print("resident memory grew by \(grown >> 20) MiB over 100 sends of 1 MiB to a peer that does not read")
        XCTAssertLessThan(grown, 48 << 20)
        // Counted as the socket takes it: less than the peer's buffers could hold while it did
        // not read, and exactly what the peer got once it read everything.
        let whileNotReading = try await bytesOut(api, id)
        XCTAssertLessThan(whileNotReading, 4 << 20)
        try await peer.resumeReading()
        var out = -1
        try await eventually("bytes_out \(out) to match what the peer got, \(peer.receivedCount)") {
            out = try await bytesOut(api, id)
            return out == peer.receivedCount && out > 0
        }
        // The sends still waiting when their clients gave up were withdrawn: what had not left
        // by then never did.
        XCTAssertLessThan(out, 4 << 20)
        print("bytes the peer got of the sends whose clients gave up: \(out)")
    }

    func testASessionClosedMidSendCountsWhatTheSocketTookNotWhatWasAskedFor() async throws {
        let service = try await ServiceProcess.start(["--max-body-bytes", "\(32 << 20)"])
        defer { Task { await service.stop() } }
        let api = service.api
        let (peer, id) = try await heldSession(api, reading: false)
        let sending = Task {
            try await api.request("POST", "/v1/sessions/\(id)/send", body: [UInt8](repeating: 0x63, count: 32 << 20), contentType: "application/octet-stream")
        }
        try await eventually("the send to be under way") { try await bytesOut(api, id) > 0 }
        let closed = try await api.delete("/v1/sessions/\(id)")
        XCTAssertEqual(closed.status, 200, closed.text)
        let recorded = try XCTUnwrap(closed["bytes_out"] as? Int, closed.text)
        let answer = try await sending.value
        XCTAssertEqual(answer.status, 409, answer.text)
        // Whatever the socket took reaches the peer before the FIN.
        try await peer.resumeReading()
        try await peer.waitForClose()
        XCTAssertLessThan(recorded, 32 << 20)
        XCTAssertLessThanOrEqual(recorded, peer.receivedCount)
        XCTAssertLessThanOrEqual(peer.receivedCount - recorded, 64 * 1024, "at most the slice being written when it closed")
    }

    /// A port nothing listens on right now, picked by the kernel.
    private func freePort(_ api: HTTPClient) async throws -> Int {
        let probe = try await api.post("/v1/listeners", json: #"{"name":"probe","address":"127.0.0.1:0","mode":"echo"}"#)
        let port = try portOf(probe)
        _ = try await api.delete("/v1/listeners/probe")
        return port
    }

    // Item 4: a forward listener pointed at itself made 9,488 hops and took 18,974 of 18,976
    // session slots in 2 s from one client.
    func testAForwardListenerCannotPointAtItselfAndALoopIsBounded() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        let port = try await freePort(api)
        for target in ["127.0.0.1:\(port)", "localhost:\(port)"] {
            let selfish = try await api.post("/v1/listeners", json: #"{"name":"self","address":"127.0.0.1:\#(port)","mode":"forward","forward_to":"\#(target)"}"#)
            XCTAssertEqual(selfish.status, 400, selfish.text)
            XCTAssertEqual(selfish.errorCode, "invalid_value")
            XCTAssertTrue(selfish.text.contains("forward_to"), selfish.text)
        }
        let wildcard = try await api.post("/v1/listeners", json: #"{"name":"self","address":"0.0.0.0:\#(port)","mode":"forward","forward_to":"127.0.0.1:\#(port)"}"#)
        XCTAssertEqual(wildcard.status, 400, wildcard.text)
        // The address is free again: nothing was left bound by the refusals.
        let bound = try await api.post("/v1/listeners", json: #"{"name":"fine","address":"127.0.0.1:\#(port)","mode":"echo"}"#)
        XCTAssertEqual(bound.status, 201, bound.text)
        _ = try await api.delete("/v1/listeners/fine")

        // A loop through two listeners: a forwards to b, b forwards to a.
        let portB = try await freePort(api)
        let a = try await api.post("/v1/listeners", json: #"{"name":"a","address":"127.0.0.1:0","mode":"forward","forward_to":"127.0.0.1:\#(portB)"}"#)
        XCTAssertEqual(a.status, 201, a.text)
        let b = try await api.post("/v1/listeners", json: #"{"name":"b","address":"127.0.0.1:\#(portB)","mode":"forward","forward_to":"127.0.0.1:\#(try portOf(a))"}"#)
        XCTAssertEqual(b.status, 201, b.text)
        let client = try await TestConnection.connect(port: try portOf(a))
        try? await client.send("loop?")
        try await client.waitForClose()
        try await eventually("the chain to unwind") { try await openSessions(api) == 0 }
        let info = try await api.get("/v1/info")
        let total = try XCTUnwrap(info["total_sessions"] as? Int, info.text)
        print("one client through a two-listener forwarding loop made \(total) sessions")
        // 2 a hop, 8 hops and the refused one: 18 when every hop is seen at once. A hop can be
        // seen one late when the two listeners accept on different event loops (median 18,
        // worst 82 in 30 runs on a loaded machine); before, one client took 18,974 slots.
        XCTAssertLessThanOrEqual(total, 400, "sessions made by one client in a loop")
        let listing = try await api.get("/v1/listeners")
        let listeners = try XCTUnwrap(listing["listeners"] as? [[String: Any]], listing.text)
        let rejected = listeners.compactMap { $0["rejected_sessions"] as? Int }.reduce(0, +)
        XCTAssertGreaterThanOrEqual(rejected, 1, "the loop was refused, and counted: \(listeners)")
        // Every other listener still serves.
        let echo = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
        let peer = try await TestConnection.connect(port: try portOf(echo))
        try await peer.send("still here")
        let echoed = try await peer.read(atLeast: 10)
        XCTAssertEqual(echoed, Array("still here".utf8))
    }

    // Item 6: after SIGKILL the unix socket file stayed, and the restore failed with "address in
    // use" though nothing listened.
    func testAUnixSocketListenerComesBackAfterACrashAndOtherFilesAreLeftAlone() async throws {
        let first = try await ServiceProcess.start()
        let path = first.directory.appendingPathComponent("l.sock").path
        let created = try await first.api.post("/v1/listeners", json: #"{"name":"unix","address":"unix:\#(path)","mode":"echo"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "the crash left the socket file")
        let second = try await ServiceProcess.start(in: first.directory)
        defer { Task { await second.stop() } }
        let restored = try await second.api.get("/v1/listeners/unix")
        XCTAssertEqual(restored["state"] as? String, "listening", restored.text)
        let peer = try await TestConnection.connect(unixPath: path)
        try await peer.send("back")
        let echoed = try await peer.read(atLeast: 4)
        XCTAssertEqual(echoed, Array("back".utf8))

        // A socket something answers on, and a file that is no socket, are never removed.
        let taken = try await second.api.post("/v1/listeners", json: #"{"name":"again","address":"unix:\#(path)","mode":"echo"}"#)
        XCTAssertEqual(taken.status, 409, taken.text)
        XCTAssertEqual(taken.errorCode, "address_in_use")
        let plain = first.directory.appendingPathComponent("plain").path
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: plain))
        let file = try await second.api.post("/v1/listeners", json: #"{"name":"file","address":"unix:\#(plain)","mode":"echo"}"#)
        XCTAssertEqual(file.status, 409, file.text)
        XCTAssertEqual(try String(contentsOfFile: plain, encoding: .utf8), "keep me")
    }

    // Item 7: a client that sends its request and shuts its write side (HTTP/1.0, `nc -N`) was
    // closed with reason `peer`, so the operator could never answer it.
    func testAHoldSessionOutlivesTheClientsHalfCloseUntilTheOperatorCloses() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        let listener = try await api.post("/v1/listeners", json: #"{"name":"desk","address":"127.0.0.1:0","mode":"hold"}"#)
        let client = try await TestConnection.connect(port: try portOf(listener), halfClose: true)
        let request = "GET / HTTP/1.0\r\n\r\n"
        try await client.send(request)
        try await client.shutdownWrite()
        var id = ""
        try await eventually("the request to arrive") {
            let sessions = try await api.get("/v1/sessions?listener=desk")["sessions"] as? [[String: Any]]
            id = sessions?.first?["id"] as? String ?? ""
            return sessions?.first?["bytes_in"] as? Int == request.utf8.count
        }
        let answer = "HTTP/1.0 200 OK\r\n\r\nanswered"
        let sent = try await api.post("/v1/sessions/\(id)/send", json: #"{"data":"\#(answer.replacingOccurrences(of: "\r\n", with: "\\r\\n"))"}"#)
        XCTAssertEqual(sent.status, 200, sent.text)
        let received = try await client.read(atLeast: answer.utf8.count)
        XCTAssertEqual(String(decoding: received, as: UTF8.self), answer)
        XCTAssertFalse(client.inputClosed, "the service has not closed its side yet")
        let messages = try await api.get("/v1/sessions/\(id)/messages?after=1&wait=30")
        XCTAssertEqual(messages["peer_finished"] as? Bool, true, messages.text)
        let closed = try await api.delete("/v1/sessions/\(id)")
        XCTAssertEqual(closed["close_reason"] as? String, "peer", closed.text)
        try await client.waitForClose()
    }

    // Item 8: the backoff was reset by every successful connect, so a server that accepts and
    // closes at once got about 600 sessions a second for ever.
    func testAReconnectingSessionToAServerThatHangsUpAtOnceBacksOff() async throws {
        let server = try await TestUpstream.start(.send(bytes: 1))
        defer { Task { await server.stop() } }
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        let started = ContinuousClock.now
        let created = try await api.post("/v1/sessions", json: #"{"name":"flap","connect":"127.0.0.1:\#(server.port)","reconnect":{"initial_ms":20,"max_ms":60000,"jitter":false}}"#)
        XCTAssertEqual(created.status, 201, created.text)
        // Each connection ends at once, so each backs off like a failed attempt: the waits
        // before the 2nd to 6th connections are 20, 40, 80, 160 and 320 ms, not 20 ms each.
        try await eventually("six connections, not \(server.accepted)") { server.accepted >= 6 }
        let elapsed = ContinuousClock.now - started
        print("a server that hangs up at once was connected 6 times in \(elapsed)")
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(20 + 40 + 80 + 160 + 320))
        let listing = try await api.get("/v1/sessions?name=flap")
        let status = try XCTUnwrap((listing["reconnecting"] as? [[String: Any]])?.first, listing.text)
        XCTAssertTrue((status["last_error"] as? String ?? "").contains("connection ended") || status["state"] as? String == "connected", "\(status)")
    }

    // Found in review: unix client sockets have no name, so every unix upstream was remembered
    // as "unix:" and ordinary unix forwarding was refused as a loop after a few clients.
    func testUnixSocketForwardingIsNotTakenForALoop() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let echo = service.directory.appendingPathComponent("echo.sock").path
        let front = service.directory.appendingPathComponent("front.sock").path
        _ = try await service.api.post("/v1/listeners", json: #"{"name":"echo","address":"unix:\#(echo)","mode":"echo"}"#)
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"front","address":"unix:\#(front)","mode":"forward","forward_to":"unix:\#(echo)"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        var clients: [TestConnection] = []
        for i in 0..<12 {
            let client = try await TestConnection.connect(unixPath: front)
            try await client.send("client \(i)")
            let echoed = try await client.read(atLeast: "client \(i)".utf8.count)
            XCTAssertEqual(String(decoding: echoed, as: UTF8.self), "client \(i)")
            clients.append(client)
        }
        let listener = try await service.api.get("/v1/listeners/front")
        XCTAssertEqual(listener["rejected_sessions"] as? Int, 0, listener.text)
    }

    // Found in review: a send whose client left answered 200 "bytes_sent: N" with fewer sent.
    func testASendWhoseClientLeavesIsNotAnsweredAsSent() async throws {
        let service = try await ServiceProcess.start(["--max-body-bytes", "\(16 << 20)"])
        defer { Task { await service.stop() } }
        let (_, id) = try await heldSession(service.api, reading: false)
        let client = try await TestConnection.connect(port: service.apiPort!, halfClose: true)
        let body = [UInt8](repeating: 0x64, count: 16 << 20)
        try await client.send(Array("POST /v1/sessions/\(id)/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        try await eventually("the send to be under way") { try await bytesOut(service.api, id) > 0 }
        try await client.shutdownWrite()
        try await eventually("an answer", timeout: .seconds(10)) { client.receivedText.contains("\r\n\r\n") || client.isClosed }
        XCTAssertTrue(client.receivedText.hasPrefix("HTTP/1.1 503"), client.receivedText)
        XCTAssertTrue(client.receivedText.contains("cancelled"), client.receivedText)
    }
}

/// A count several tasks add to.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ n: Int = 1) { count.add(n, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
