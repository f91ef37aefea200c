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
}
