import Foundation
import SwitchboardCore
import SwitchboardTestSupport
import XCTest

/// Where the service and its OpenAPI document once disagreed (schemathesis found both).
final class ContractAPITests: XCTestCase {
    func testAnEmptyCursorIsTheFirstPage() async throws {
        try await withAPI { api, _ in
            let first = try await api.get("/v1/history?cursor=")
            XCTAssertEqual(first.status, 200, first.text)
            XCTAssertEqual((first["sessions"] as? [Any])?.count, 0)
            let limited = try await api.get("/v1/history?cursor=&limit=5")
            XCTAssertEqual(limited.status, 200, limited.text)
            // Streams take no cursor; an empty one is no cursor.
            let streamed = try await api.get("/v1/history?cursor=&format=ndjson")
            XCTAssertEqual(streamed.status, 200, streamed.text)
            let refused = try await api.get("/v1/history?cursor=abc")
            XCTAssertEqual(refused.status, 400, refused.text)
            XCTAssertEqual(refused.errorCode, "invalid_value")
        }
    }

    func testAnAddressThatIsNotIPv4IsMalformedInputNotAnUnavailableAddress() async throws {
        try await withAPI { api, _ in
            for address in ["300.1.1.1:80", "10.0.0.256:80", "1.2.3:80", "1.2.3.4.5:80", "127..0.1:80", "999:80"] {
                let created = try await api.post("/v1/listeners", json: #"{"name":"bad","address":"\#(address)","mode":"echo"}"#)
                XCTAssertEqual(created.status, 400, "\(address): \(created.text)")
                XCTAssertEqual(created.errorCode, "invalid_value", address)
                XCTAssertTrue(created.text.contains(#""message":"address: "#), created.text)
                let connected = try await api.post("/v1/sessions", json: #"{"connect":"\#(address)"}"#)
                XCTAssertEqual(connected.status, 400, "\(address): \(connected.text)")
                XCTAssertEqual(connected.errorCode, "invalid_value", address)
            }
            let good = try await api.post("/v1/listeners", json: #"{"name":"good","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(good.status, 201, good.text)
        }
    }

    func testADottedQuadIsCheckedAndHostNamesAreLeftAlone() throws {
        XCTAssertEqual(try Endpoint(parsing: "255.255.255.255:1"), .host("255.255.255.255", port: 1))
        XCTAssertEqual(try Endpoint(parsing: "0.0.0.0:0"), .host("0.0.0.0", port: 0))
        // A name with a letter in it is a host name, whatever its digits.
        XCTAssertEqual(try Endpoint(parsing: "300.1.1.example:80"), .host("300.1.1.example", port: 80))
        XCTAssertEqual(try Endpoint(parsing: "1.2.3.4.nip.io:80"), .host("1.2.3.4.nip.io", port: 80))
        for text in ["300.1.1.1:80", "1.2.3.4.:80", ".1.2.3:80", "1.2.3.0004:80", "4294967295:80"] {
            XCTAssertThrowsError(try Endpoint(parsing: text), text) { error in
                XCTAssertTrue("\(error)".contains("is not an IPv4 address"), "\(error)")
            }
        }
    }
}
