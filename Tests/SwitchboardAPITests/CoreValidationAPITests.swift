import Foundation
import SwitchboardTestSupport
import XCTest

/// The ranges of options and reconnect policies are the core's; the API answers its refusals
/// as 400 invalid_value with a message that names the field.
final class CoreValidationAPITests: XCTestCase {
    func testOutOfRangeOptionsAndPoliciesNameTheirField() async throws {
        try await withAPI { api, _ in
            let cases: [(path: String, body: String, field: String)] = [
                ("/v1/listeners", #"{"name":"l","address":"127.0.0.1:0","mode":"echo","keepalive":{"idle_s":0}}"#, "keepalive.idle_s"),
                ("/v1/listeners", #"{"name":"l","address":"127.0.0.1:0","mode":"echo","idle_timeout_ms":1000000000000000000}"#, "idle_timeout_ms"),
                ("/v1/listeners", #"{"name":"l","address":"127.0.0.1:0","mode":"echo","backlog":70000}"#, "backlog"),
                ("/v1/sessions", #"{"connect":"127.0.0.1:9","connect_timeout_ms":0}"#, "connect_timeout_ms"),
                ("/v1/sessions", #"{"connect":"127.0.0.1:9","keepalive":{"count":128}}"#, "keepalive.count"),
                ("/v1/sessions", #"{"connect":"127.0.0.1:9","name":"r","reconnect":{"initial_ms":0}}"#, "reconnect.initial_ms"),
                ("/v1/sessions", #"{"connect":"127.0.0.1:9","name":"r","reconnect":{"initial_ms":500,"max_ms":100}}"#, "reconnect.max_ms"),
                ("/v1/sessions", #"{"connect":"127.0.0.1:9","name":"r","reconnect":{"max_ms":86400001}}"#, "reconnect.max_ms"),
            ]
            for (path, body, field) in cases {
                let answer = try await api.post(path, json: body)
                XCTAssertEqual(answer.status, 400, "\(body): \(answer.text)")
                XCTAssertEqual(answer.errorCode, "invalid_value", body)
                XCTAssertTrue(answer.text.contains(#""message":"\#(field) must be"#), "\(body): \(answer.text)")
            }
        }
    }

    func testTheCoresRefusalsKeepTheirStatusWithoutAControllerMappingThem() async throws {
        try await withAPI { api, _ in
            let missing = try await api.get("/v1/listeners/nope")
            XCTAssertEqual(missing.status, 404, missing.text)
            XCTAssertEqual(missing.errorCode, "not_found")
            let first = try await api.post("/v1/listeners", json: #"{"name":"twice","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(first.status, 201, first.text)
            let again = try await api.post("/v1/listeners", json: #"{"name":"twice","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(again.status, 409, again.text)
            XCTAssertEqual(again.errorCode, "name_taken")
            XCTAssertTrue(again.text.hasSuffix("}\n"), "an error ends in a newline like every answer")
        }
    }
}
