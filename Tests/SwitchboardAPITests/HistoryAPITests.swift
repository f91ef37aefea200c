import Foundation
import SwitchboardTestSupport
import XCTest

final class HistoryAPITests: XCTestCase {
    /// Makes `count` finished sessions through an echo listener and waits until they are written.
    private func churn(_ api: HTTPClient, _ context: APIContext, count: Int, capture: Bool = false) async throws -> Int {
        let created = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo","capture":\#(capture)}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let port = Int((created["address"] as! String).split(separator: ":").last!)!
        for i in 0..<count {
            let peer = try await TestConnection.connect(port: port)
            try await peer.send("n\(i)")
            try await peer.read(atLeast: "n\(i)".utf8.count)
            await peer.close()
        }
        try await eventually("all closed") { context.switchboard.counts.openSessions == 0 }
        let written = await context.writer.waitUntilWritten()
        XCTAssertTrue(written)
        return port
    }

    func testPagesFiltersAndOneSession() async throws {
        try await withAPIContext { api, context in
            _ = try await churn(api, context, count: 25)
            var ids: [String] = []
            var path = "/v1/history?limit=10&listener=echo"
            while true {
                let page = try await api.get(path)
                XCTAssertEqual(page.status, 200, page.text)
                ids += (page["sessions"] as! [[String: Any]]).map { $0["id"] as! String }
                guard let cursor = page["next_cursor"] as? String else { break }
                path = "/v1/history?limit=10&listener=echo&cursor=\(cursor)"
            }
            XCTAssertEqual(ids.count, 25)
            XCTAssertEqual(Set(ids).count, 25)
            XCTAssertEqual(ids, ids.sorted(by: >), "newest first")

            let one = try await api.get("/v1/history/\(ids[0])")
            XCTAssertEqual(one.status, 200)
            XCTAssertEqual(one["state"] as? String, "closed")
            XCTAssertEqual(one["bytes_in"] as? Int, one["bytes_out"] as? Int)
            XCTAssertTrue(try one.json.keys.contains("partner_id"))

            let none = try await api.get("/v1/history?listener=other")
            XCTAssertEqual((none["sessions"] as? [Any])?.count, 0)
            XCTAssertTrue(none["next_cursor"] is NSNull)
            let future = try await api.get("/v1/history?since=2999-01-01T00:00:00Z")
            XCTAssertEqual((future["sessions"] as? [Any])?.count, 0)
            let past = try await api.get("/v1/history?until=2999-01-01T00:00:00%2B02:00&role=server&state=closed&min_bytes=2&remote=127.0.0.1:")
            XCTAssertEqual((past["sessions"] as? [Any])?.count, 25)

            let stats = try await api.get("/v1/history/stats")
            XCTAssertEqual(stats["sessions"] as? Int, 25)
            XCTAssertEqual((stats["groups"] as? [[String: Any]])?.first?["listener"] as? String, "echo")
        }
    }

    func testStreamsEveryRowAsNDJSONAndCSV() async throws {
        try await withAPIContext { api, context in
            _ = try await churn(api, context, count: 12)
            let ndjson = try await api.get("/v1/history?format=ndjson")
            XCTAssertEqual(ndjson.status, 200)
            XCTAssertEqual(ndjson.header("Content-Type"), "application/x-ndjson")
            let lines = ndjson.text.split(separator: "\n")
            XCTAssertEqual(lines.count, 12)
            for line in lines { XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) }

            let csv = try await api.get("/v1/history?format=csv&listener=echo")
            XCTAssertEqual(csv.status, 200)
            let rows = csv.text.split(separator: "\r\n")
            XCTAssertEqual(rows.count, 13)
            XCTAssertTrue(rows[0].hasPrefix("id,role,listener"))
            let columns = rows[0].split(separator: ",", omittingEmptySubsequences: false).count
            for row in rows.dropFirst() {
                XCTAssertEqual(row.split(separator: ",", omittingEmptySubsequences: false).count, columns, String(row))
            }
        }
    }

    func testCapturedTranscriptIsReadableAfterTheSessionClosed() async throws {
        try await withAPIContext { api, context in
            _ = try await churn(api, context, count: 1, capture: true)
            let id = ((try await api.get("/v1/history"))["sessions"] as! [[String: Any]])[0]["id"] as! String
            let messages = try await api.get("/v1/history/\(id)/messages")
            XCTAssertEqual(messages.status, 200, messages.text)
            let items = messages["messages"] as! [[String: Any]]
            XCTAssertEqual(items.map { $0["direction"] as? String }, ["in", "out"])
            XCTAssertEqual(items.map { $0["data"] as? String }, ["n0", "n0"])
            XCTAssertEqual(messages["truncated"] as? Bool, false)
            let hex = try await api.get("/v1/history/\(id)/messages?encoding=hex&after=1")
            XCTAssertEqual(((hex["messages"] as? [[String: Any]])?.first)?["data"] as? String, "6e30")
        }
    }

    func testBadFiltersAndUnknownIds() async throws {
        try await withAPIContext { api, _ in
            for query in ["state=half", "role=peer", "since=yesterday", "until=2026-13-01T00:00:00Z", "limit=0", "limit=1001",
                          "limit=ten", "cursor=abc", "min_bytes=-1", "format=xml", "colour=red", "format=csv&limit=5"] {
                let result = try await api.get("/v1/history?\(query)")
                XCTAssertEqual(result.status, 400, "\(query) → \(result.text)")
                XCTAssertNotNil(result.errorCode, query)
            }
            let unknown = try await api.get("/v1/history/01ARZ3NDEKTSV4RRFFQ69G5FAV")
            XCTAssertEqual(unknown.status, 404)
            XCTAssertEqual(unknown.errorCode, "not_found")
            let nope = try await api.get("/v1/history/nope/messages")
            XCTAssertEqual(nope.status, 404)
            let never = try await api.get("/v1/history/stats?since=never")
            XCTAssertEqual(never.status, 400)
        }
    }

    func testReadyzFollowsStartupAndTheWriter() async throws {
        try await withAPIContext { api, context in
            let ready = try await api.get("/readyz")
            XCTAssertEqual(ready.status, 200, ready.text)
            context.service.addReadinessCheck { "history writes are failing: disk full" }
            let notReady = try await api.get("/readyz")
            XCTAssertEqual(notReady.status, 503)
            XCTAssertEqual(notReady.errorCode, "not_ready")
            XCTAssertTrue(notReady.text.contains("disk full"))
        }
    }
}
