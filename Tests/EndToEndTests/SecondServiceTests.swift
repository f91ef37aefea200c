import Foundation
import SwitchboardTestSupport
import XCTest

/// A second `serve` on a history file a live service holds is refused before it changes
/// anything, naming the holder; the first one's live sessions stay open in the file.
final class SecondServiceTests: XCTestCase {
    func testASecondServiceOnTheSameFileIsRefusedAndLeavesTheFirstsSessionsOpen() async throws {
        let first = try await ServiceProcess.start(["--history-spool-mb", "0"])
        defer { Task { await first.stop() } }
        let listener = try await first.api.post("/v1/listeners", json: #"{"name":"desk","address":"127.0.0.1:0","mode":"hold"}"#)
        let port = try XCTUnwrap(Int((listener["address"] as? String ?? "").split(separator: ":").last ?? ""), listener.text)
        let peer = try await TestConnection.connect(port: port)
        defer { Task { await peer.close() } }
        try await eventually("the open session in the history") {
            let open = try await first.api.get("/v1/history?state=open")
            return (open["sessions"] as? [Any])?.count == 1
        }
        for spool in ["0", "4"] {
            let (status, output) = try await runSwitchboard([
                "serve", "--api", "127.0.0.1:0", "--db", first.historyFile, "--history-spool-mb", spool, "--instance", "intruder",
            ])
            XCTAssertEqual(status, 1, output)
            XCTAssertTrue(output.contains("is in use by another switchboard"), output)
            XCTAssertTrue(output.contains("pid \(first.process.processIdentifier)"), "the holder is named: \(output)")
        }
        let open = try await first.api.get("/v1/history?state=open")
        XCTAssertEqual((open["sessions"] as? [Any])?.count, 1, "still open, not interrupted: \(open.text)")
        let interrupted = try await first.api.get("/v1/history?state=interrupted")
        XCTAssertEqual((interrupted["sessions"] as? [Any])?.count, 0, interrupted.text)
    }

    /// A file's listeners are its instance's: a service started later under another name (a
    /// renamed host) restores none of them, and says whose they are; under the old name it does.
    func testAnotherInstanceOnTheFileRestoresNoneOfItsListenersAndSaysWhose() async throws {
        let first = try await ServiceProcess.start(["--instance", "old-host"])
        let created = try await first.api.post("/v1/listeners", json: #"{"name":"desk","address":"127.0.0.1:0","mode":"hold"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        first.signal(SIGTERM)
        _ = try await first.waitForExit()
        let renamed = try await ServiceProcess.start(["--instance", "new-host"], in: first.directory)
        let none = try await renamed.api.get("/v1/listeners")
        XCTAssertEqual((none["listeners"] as? [Any])?.count, 0, none.text)
        XCTAssertTrue(renamed.output.contains("others=old-host: 1"), renamed.output)
        renamed.signal(SIGTERM)
        _ = try await renamed.waitForExit()
        let again = try await ServiceProcess.start(["--instance", "old-host"], in: first.directory)
        defer { Task { await again.stop() } }
        let restored = try await again.api.get("/v1/listeners/desk")
        XCTAssertEqual(restored["instance"] as? String, "old-host", restored.text)
        XCTAssertEqual(restored["address"] as? String, created["address"] as? String, restored.text)
    }
}
