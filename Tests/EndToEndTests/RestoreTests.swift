import Foundation
import SwitchboardTestSupport
import XCTest

/// What a restart does with stored rows the service cannot understand: it lists them as failed
/// with the reason, binds nothing in their name, and leaves the rows as they were.
final class RestoreTests: XCTestCase {
    private func sqlite(_ file: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print(r)", file, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    func testARowTheServiceCannotUnderstandIsRestoredAsFailedAndLeftAsItWas() async throws {
        let first = try await ServiceProcess.start()
        let listener = try await first.api.post("/v1/listeners", json: #"{"name":"odd","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(listener.status, 201, listener.text)
        let session = try await first.api.post("/v1/sessions", json: #"{"name":"plc","connect":"127.0.0.1:9","reconnect":{"initial_ms":1000}}"#)
        XCTAssertEqual(session.status, 201, session.text)
        first.signal(SIGTERM)
        _ = try await first.waitForExit()
        // As a newer (or broken) build might have written them; the schema's CHECKs keep the
        // mode to the known ones, but an address is free text.
        _ = try sqlite(first.historyFile, "UPDATE listeners SET address = 'teleport:1:2' WHERE name = 'odd'")
        _ = try sqlite(first.historyFile, "UPDATE reconnecting_sessions SET connect = 'not an address' WHERE name = 'plc'")

        let second = try await ServiceProcess.start(in: first.directory)
        defer { Task { await second.stop() } }
        let restored = try await second.api.get("/v1/listeners/odd")
        XCTAssertEqual(restored["state"] as? String, "failed", restored.text)
        XCTAssertTrue((restored["error"] as? String ?? "").contains("teleport"), restored.text)
        let reconnecting = try await second.api.get("/v1/sessions?name=plc")
        let status = try XCTUnwrap((reconnecting["reconnecting"] as? [[String: Any]])?.first, reconnecting.text)
        XCTAssertEqual(status["state"] as? String, "stopped", reconnecting.text)
        XCTAssertTrue((status["last_error"] as? String ?? "").contains("not an address"), reconnecting.text)
        XCTAssertEqual(try sqlite(first.historyFile, "SELECT address FROM listeners WHERE name = 'odd'"), "[('teleport:1:2',)]\n", "the row is not rewritten")

        // Deleting them removes them for good.
        let deletedListener = try await second.api.delete("/v1/listeners/odd")
        XCTAssertEqual(deletedListener.status, 200, deletedListener.text)
        let deletedSession = try await second.api.delete("/v1/sessions?name=plc")
        XCTAssertEqual(deletedSession.status, 200, deletedSession.text)
        XCTAssertEqual(try sqlite(first.historyFile, "SELECT count(*) FROM listeners"), "[(0,)]\n")
        XCTAssertEqual(try sqlite(first.historyFile, "SELECT count(*) FROM reconnecting_sessions"), "[(0,)]\n")
    }
}
