import Foundation
import SwitchboardHistory
import SwitchboardTestSupport
import XCTest

/// One session read on every path that writes it: the same keys, in the same order, absent
/// values as null.
final class JSONShapeAPITests: XCTestCase {
    func testASessionHasOneKeyOrderOnRESTEventsAndNDJSON() async throws {
        try await withAPIContext { api, context in
            let stream = try await EventStreamClient.open(port: api.port, "/v1/events")
            let created = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(created.status, 201, created.text)
            let port = Int((created["address"] as! String).split(separator: ":").last!)!
            let peer = try await TestConnection.connect(port: port)
            let opened = try await stream.waitForEvents("the session to open") { $0.contains { $0.event == "session.opened" } }
                .first { $0.event == "session.opened" }!
            let id = try XCTUnwrap(opened["id"] as? String)
            let live = try await api.get("/v1/sessions/\(id)")
            XCTAssertEqual(live.status, 200, live.text)
            await peer.close()
            let closed = try await stream.waitForEvents("the session to close") { $0.contains { $0.event == "session.closed" } }
                .first { $0.event == "session.closed" }!
            await stream.close()
            try await eventually("closed") { context.switchboard.counts.openSessions == 0 }
            let written = await context.writer.waitUntilWritten()
            XCTAssertTrue(written)
            let stored = try await api.get("/v1/history/\(id)")
            let ndjson = try await api.get("/v1/history?format=ndjson")
            let line = try XCTUnwrap(ndjson.text.split(separator: "\n").first.map(String.init))

            let expected = SessionRecord.CodingKeys.allCases.map(\.stringValue)
            let texts = ["REST live": live.text, "session.opened": opened.data, "session.closed": closed.data, "REST history": stored.text, "NDJSON": line]
            for (path, text) in texts {
                XCTAssertEqual(JSONKeyOrder.topLevelKeys(text), expected, "\(path): \(text)")
            }
            // An echo listener's server session has no name or partner: the keys are there, null.
            XCTAssertTrue(live.text.contains(#""name":null"#), live.text)
            XCTAssertTrue(opened.data.contains(#""partner_id":null"#), opened.data)
            XCTAssertTrue(line.contains(#""name":null"#), line)
        }
    }
}
