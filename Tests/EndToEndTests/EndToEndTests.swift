import Foundation
import SwitchboardTestSupport
import Synchronization
import XCTest

/// The real binary, driven over HTTP, with the seed's own Python programs as peers.
final class EndToEndTests: XCTestCase {
    private func python(_ script: URL) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", script.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        return (process, pipe)
    }

    func testTheSeedClientTalksToAReplyListener() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"greeter","address":"127.0.0.1:0","mode":"reply","reply":"Hello from server!"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let port = Int((created["address"] as! String).split(separator: ":").last!)!

        let (client, output) = try python(try seedProgram("client.py", port: port, in: service.directory))
        try await eventually("the seed client to finish") { !client.isRunning }
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(client.terminationStatus, 0, printed)
        XCTAssertEqual(printed, "Server says: Hello from server!\n")

        try await eventually("the session to be recorded closed") {
            let sessions = (try await service.api.get("/v1/sessions?listener=greeter&state=closed"))["sessions"] as? [[String: Any]] ?? []
            return sessions.count == 1
        }
        let session = ((try await service.api.get("/v1/sessions?listener=greeter"))["sessions"] as! [[String: Any]])[0]
        XCTAssertEqual(session["bytes_in"] as? Int, 14)
        XCTAssertEqual(session["bytes_out"] as? Int, 18)
        XCTAssertEqual(session["role"] as? String, "server")
    }

    func testSwitchboardIsTheSeedServersClient() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let port = try freePort()
        let (server, output) = try python(try seedProgram("server.py", port: port, in: service.directory))
        defer { if server.isRunning { server.terminate() } }
        let printed = LineCollector(output)
        try await eventually("the seed server to listen") { printed.text.contains("Server is waiting") || !server.isRunning }

        let opened = try await service.api.post("/v1/sessions", json: #"{"connect":"127.0.0.1:\#(port)","send":"Hello, Server!"}"#)
        XCTAssertEqual(opened.status, 201, opened.text)
        let id = try XCTUnwrap(opened["id"] as? String)

        var inbound: [String] = []
        try await eventually("the server's answer") {
            let page = try await service.api.get("/v1/sessions/\(id)/messages?wait=5")
            inbound = (page["messages"] as? [[String: Any]] ?? []).filter { $0["direction"] as? String == "in" }.compactMap { $0["data"] as? String }
            return !inbound.isEmpty
        }
        XCTAssertEqual(inbound.joined(), "Hello from server!", "byte for byte")
        try await eventually("the seed server to exit") { !server.isRunning }
        XCTAssertTrue(printed.text.contains("Client says: Hello, Server!"), printed.text)
        try await eventually("the peer's close to be recorded") {
            (try await service.api.get("/v1/sessions/\(id)"))["close_reason"] as? String == "peer"
        }
    }

    func testSIGTERMClosesEverythingAndExitsZero() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"hold","address":"127.0.0.1:0","mode":"hold"}"#)
        let port = Int((created["address"] as! String).split(separator: ":").last!)!
        var peers: [TestConnection] = []
        for _ in 0..<20 { peers.append(try await TestConnection.connect(port: port)) }
        try await eventually("20 open sessions") {
            (try await service.api.get("/v1/info"))["open_sessions"] as? Int == 20
        }
        // A long-poll in flight must not hold up the exit.
        let sessionID = ((try await service.api.get("/v1/sessions"))["sessions"] as! [[String: Any]])[0]["id"] as! String
        let poll = Task { try? await service.api.get("/v1/sessions/\(sessionID)/messages?wait=60") }

        service.signal(SIGTERM)
        let status = try await service.waitForExit(timeout: .seconds(10))
        XCTAssertEqual(status, 0, service.output)
        for peer in peers { try await peer.waitForClose(timeout: .seconds(5)) }
        _ = await poll.value
        XCTAssertTrue(service.output.contains("all listeners stopped and sessions closed sessions=20"), service.output)
        // Sessions are in the history, not one line each in the journal at the default level.
        XCTAssertFalse(service.output.contains("session closed"), service.output)
    }

    func testHelpOnEveryCommandAndClearRefusals() async throws {
        let root = try await runSwitchboard(["--help"])
        XCTAssertEqual(root.status, 0)
        XCTAssertTrue(root.output.contains("serve"), root.output)
        let serve = try await runSwitchboard(["serve", "--help"])
        XCTAssertEqual(serve.status, 0)
        for option in ["--api", "--db", "--log-level"] { XCTAssertTrue(serve.output.contains(option), serve.output) }

        let badAPI = try await runSwitchboard(["serve", "--api", "localhost"])
        XCTAssertNotEqual(badAPI.status, 0)
        XCTAssertTrue(badAPI.output.contains("--api"), badAPI.output)
        let badLevel = try await runSwitchboard(["serve", "--log-level", "loud"])
        XCTAssertNotEqual(badLevel.status, 0)
    }

    func testEventLoopsFollowTheCPUsTheServiceMayRunOn() async throws {
        // Pinned to one CPU (CPUAffinity=, taskset), one loop: more would only preempt each other.
        let pinned = try await ServiceProcess.start(cpus: "0")
        XCTAssertTrue(pinned.output.contains("event_loops=1 "), pinned.output)
        await pinned.stop()
        let asked = try await ServiceProcess.start(environment: ["SWITCHBOARD_EVENT_LOOPS": "3"])
        defer { Task { await asked.stop() } }
        XCTAssertTrue(asked.output.contains("event_loops=3 "), asked.output)
        let created = try await asked.api.post("/v1/listeners", json: #"{"name":"e","address":"127.0.0.1:0","mode":"echo"}"#)
        let port = Int((created["address"] as! String).split(separator: ":").last!)!
        for _ in 0..<6 {
            let client = try await TestConnection.connect(port: port)
            try await client.send("ping")
            let echoed = try await client.read(atLeast: 4)
            XCTAssertEqual(echoed, Array("ping".utf8))
            await client.close()
        }
        let bad = try await runSwitchboard(["serve", "--event-loops", "0"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("--event-loops must be from 1 to 256"), bad.output)
    }

    func testTheAPICanListenOnAUnixSocket() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-unix-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let socket = directory.appendingPathComponent("api.sock").path
        let service = try ServiceProcess(arguments: ["serve", "--api", "unix:\(socket)", "--db", directory.appendingPathComponent("h.sqlite3").path], directory: directory)
        defer { Task { await service.stop() } }
        try await eventually("the API socket") { service.output.contains("control API listening on unix:\(socket)") }
        let api = HTTPClient(unixPath: socket)
        let health = try await api.get("/healthz")
        XCTAssertEqual(health.status, 200, health.text)
        let info = try await api.get("/v1/info")
        XCTAssertEqual(info["api"] as? String, "unix:\(socket)")
    }

    func testAnAPIAddressInUseIsAClearFailure() async throws {
        let first = try await ServiceProcess.start()
        defer { Task { await first.stop() } }
        let second = try await runSwitchboard(["serve", "--api", "127.0.0.1:\(first.apiPort!)", "--db", first.directory.appendingPathComponent("x.sqlite3").path])
        XCTAssertNotEqual(second.status, 0)
        XCTAssertTrue(second.output.lowercased().contains("address already in use") || second.output.contains("in use"), second.output)
        // Nothing that points the operator elsewhere first.
        XCTAssertFalse(second.output.contains("history writes are failing"), second.output)
    }
}

/// Collects a child's output as it comes, without blocking on the pipe.
final class LineCollector: Sendable {
    private let buffer = Mutex("")
    private let ended = Mutex(false)
    init(_ pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                self.ended.withLock { $0 = true }
                return
            }
            self.buffer.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
    }
    var text: String { buffer.withLock { $0 } }
    /// The writer closed its end: `text` is complete.
    var closed: Bool { ended.withLock { $0 } }
}

/// A port nothing listens on right now (the kernel's choice for a socket bound to port 0).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
