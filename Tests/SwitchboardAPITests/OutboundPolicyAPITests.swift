import SwitchboardCore
import SwitchboardTestSupport
import XCTest

/// --allow-connect and --deny-connect as the API answers them: 403 `forbidden`, naming the rule.
final class OutboundPolicyAPITests: XCTestCase {
    private func policy(allow: [String] = [], deny: [String]) throws -> OutboundPolicy {
        OutboundPolicy(allow: try allow.map { try ConnectRule(parsing: $0) }, deny: try deny.map { try ConnectRule(parsing: $0) })
    }

    func testDeniedSessionTargetsAre403sNamingTheRule() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        try await withAPIContext(outboundPolicy: try policy(deny: ["127.0.0.0/8:\(upstream.port)", "[::1]/128"])) { api, _ in
            let denied = try await api.post("/v1/sessions", json: #"{"connect":"127.0.0.1:\#(upstream.port)","send":"x"}"#)
            XCTAssertEqual(denied.status, 403, denied.text)
            XCTAssertEqual(denied.errorCode, "forbidden")
            XCTAssertEqual((try denied.json["error"] as? [String: Any])?["message"] as? String,
                           "127.0.0.1:\(upstream.port) is denied by --deny-connect 127.0.0.0/8:\(upstream.port)")
            // A name is resolved and its addresses checked: localhost is 127.0.0.1 (and ::1).
            let byName = try await api.post("/v1/sessions", json: #"{"connect":"localhost:\#(upstream.port)"}"#)
            XCTAssertEqual(byName.status, 403, byName.text)
            XCTAssertTrue(byName.text.contains("is denied by --deny-connect"), byName.text)
            let reconnecting = try await api.post("/v1/sessions", json: #"{"name":"r","connect":"127.0.0.1:\#(upstream.port)","reconnect":{}}"#)
            XCTAssertEqual(reconnecting.status, 403, reconnecting.text)
            XCTAssertEqual(upstream.accepted, 0, "no connection was made")
            // Other ports are not covered by the rule.
            let other = try await TestUpstream.start(.echo)
            defer { Task { await other.stop() } }
            let allowed = try await api.post("/v1/sessions", json: #"{"connect":"127.0.0.1:\#(other.port)"}"#)
            XCTAssertEqual(allowed.status, 201, allowed.text)
        }
    }

    func testAnAllowListRefusesEverythingElse() async throws {
        try await withAPIContext(outboundPolicy: try policy(allow: ["10.0.0.0/8:502"], deny: [])) { api, _ in
            let refused = try await api.post("/v1/sessions", json: #"{"connect":"127.0.0.1:502"}"#)
            XCTAssertEqual(refused.status, 403, refused.text)
            XCTAssertTrue(refused.text.contains("127.0.0.1:502 is not allowed by any --allow-connect rule"), refused.text)
            let unix = try await api.post("/v1/sessions", json: #"{"connect":"unix:/run/whatever.sock"}"#)
            XCTAssertEqual(unix.status, 403, unix.text)
        }
    }

    func testDeniedForwardTargetsAre403s() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        try await withAPIContext(outboundPolicy: try policy(deny: ["127.0.0.1:\(upstream.port)", "[::1]/128"])) { api, _ in
            for target in ["127.0.0.1:\(upstream.port)", "localhost:\(upstream.port)"] {
                let created = try await api.post("/v1/listeners", json: #"{"name":"f","address":"127.0.0.1:0","mode":"forward","forward_to":"\#(target)"}"#)
                XCTAssertEqual(created.status, 403, created.text)
                XCTAssertEqual(created.errorCode, "forbidden")
                XCTAssertTrue(created.text.contains("is denied by --deny-connect 127.0.0.1:\(upstream.port)"), created.text)
            }
            let listeners = try await api.get("/v1/listeners")
            XCTAssertEqual((listeners["listeners"] as? [Any])?.count, 0)
        }
    }
}
