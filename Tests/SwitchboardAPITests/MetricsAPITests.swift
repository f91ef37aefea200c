import Foundation
import SwitchboardTestSupport
import XCTest

/// `GET /metrics` and the request metrics, against a registry of the test's own.
final class MetricsAPITests: XCTestCase {
    func testRequestsAreCountedByRouteTemplateMethodAndStatus() async throws {
        try await withAPI { api, _ in
            _ = try await api.post("/v1/listeners", json: #"{"name":"m1","address":"127.0.0.1:0","mode":"hold"}"#)
            _ = try await api.get("/v1/listeners/m1")
            _ = try await api.get("/v1/listeners/nope")
            _ = try await api.get("/v1/sessions/01M8B0P50C1E146WK4HR517E71")
            _ = try await api.get("/no/such/path/01M8B0P50C1E146WK4HR517E71")

            let scraped = try await api.get("/metrics")
            XCTAssertEqual(scraped.status, 200)
            XCTAssertEqual(scraped.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
            let text = scraped.text
            XCTAssertTrue(text.contains(#"switchboard_http_requests_total{route="/v1/listeners",method="POST",status="201"} 1"#), text)
            XCTAssertTrue(text.contains(#"switchboard_http_requests_total{route="/v1/listeners/{name}",method="GET",status="200"} 1"#), text)
            XCTAssertTrue(text.contains(#"switchboard_http_requests_total{route="/v1/listeners/{name}",method="GET",status="404"} 1"#), text)
            XCTAssertTrue(text.contains(#"route="unmatched",method="GET",status="404"} 1"#), text)
            XCTAssertTrue(text.contains(#"switchboard_http_request_duration_seconds_count{route="/v1/listeners/{name}",method="GET"} 2"#), text)
            XCTAssertFalse(text.contains("01M8B0P50C1E146WK4HR517E71") || text.contains("m1") || text.contains("nope"), "raw paths never become labels:\n\(text)")

            // Every metric of ours says what it is, as Prometheus's `# HELP` line.
            let lines = text.split(separator: "\n")
            for (i, line) in lines.enumerated() where line.hasPrefix("# TYPE switchboard_") {
                let name = line.split(separator: " ")[2]
                XCTAssertTrue(i > 0 && lines[i - 1].hasPrefix("# HELP \(name) "), "no help for \(name)")
            }
            XCTAssertTrue(lines.contains { $0.hasPrefix("# TYPE switchboard_") })

            let refused = try await api.get("/metrics?x=1")
            XCTAssertEqual(refused.status, 400)
            XCTAssertEqual(refused.errorCode, "unknown_parameter")
        }
    }
}
