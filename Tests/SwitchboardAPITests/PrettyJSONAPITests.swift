import Foundation
@testable import SwitchboardAPI
import SwitchboardTestSupport
import XCTest

/// `?pretty` lays a JSON answer out for a person: the same keys and values, indented; other
/// values of it are refused, and it is no parameter of the answers that are not JSON.
final class PrettyJSONAPITests: XCTestCase {
    private struct Sample: Encodable {
        struct Inner: Encodable { let a: Int; let b: [String] }
        let name: String
        let inner: Inner
        let empty: [Int]
        let none: String?
        let objects: [Inner]
    }

    func testTheEncoderIndentsWhatItWritesCompactly() throws {
        let sample = Sample(name: "x \"y\"", inner: .init(a: 1, b: ["p", "q"]), empty: [], none: nil, objects: [.init(a: 2, b: [])])
        let indented = String(decoding: try StreamingJSONEncoder.encode(sample, style: .indented), as: UTF8.self)
        XCTAssertEqual(indented, """
            {
              "name": "x \\"y\\"",
              "inner": {
                "a": 1,
                "b": [
                  "p",
                  "q"
                ]
              },
              "empty": [],
              "none": null,
              "objects": [
                {
                  "a": 2,
                  "b": []
                }
              ]
            }
            """)
        let compact = try StreamingJSONEncoder.encode(sample)
        XCTAssertEqual(String(decoding: compact, as: UTF8.self), #"{"name":"x \"y\"","inner":{"a":1,"b":["p","q"]},"empty":[],"none":null,"objects":[{"a":2,"b":[]}]}"#)
        XCTAssertEqual(String(decoding: try StreamingJSONEncoder.encode(["k": 1], style: .indented), as: UTF8.self), "{\n  \"k\": 1\n}")
        XCTAssertEqual(String(decoding: try StreamingJSONEncoder.encode(7, style: .indented), as: UTF8.self), "7")
    }

    func testPrettyIndentsEveryJSONAnswerAndRefusesOtherValues() async throws {
        try await withAPI { api, _ in
            let created = try await api.post("/v1/listeners?pretty", json: #"{"name":"e","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertEqual(created.status, 201, created.text)
            XCTAssertTrue(created.text.hasPrefix("{\n  \"name\": \"e\",\n  \"mode\": \"echo\",\n"), created.text)
            XCTAssertTrue(created.text.hasSuffix("\n}\n"), created.text)

            for query in ["pretty", "pretty=", "pretty=true", "pretty=1", "state=open&pretty"] {
                let path = query.hasPrefix("state") ? "/v1/sessions?\(query)" : "/v1/listeners?\(query)"
                let pretty = try await api.get(path)
                let compact = try await api.get(path.replacingOccurrences(of: "&pretty", with: "").replacingOccurrences(of: "?\(query)", with: ""))
                XCTAssertEqual(pretty.status, 200, "\(query): \(pretty.text)")
                XCTAssertTrue(pretty.text.hasPrefix("{\n  \""), "\(query): \(pretty.text)")
                XCTAssertFalse(compact.text.contains("\n  "), compact.text)
                // The same answer, laid out otherwise.
                XCTAssertEqual(try Self.canonical(pretty.body), try Self.canonical(compact.body), query)
            }
            let health = try await api.get("/healthz?pretty=1")
            XCTAssertEqual(health.text, "{\n  \"status\": \"ok\"\n}\n")

            // Errors are answers too.
            let missing = try await api.get("/v1/listeners/nope?pretty")
            XCTAssertEqual(missing.status, 404)
            XCTAssertTrue(missing.text.hasPrefix("{\n  \"error\": {\n    \"code\": \"not_found\",\n"), missing.text)

            for bad in ["pretty=yes", "pretty=false", "pretty=0", "pretty=TRUE"] {
                for path in ["/v1/listeners", "/healthz"] {
                    let refused = try await api.get("\(path)?\(bad)")
                    XCTAssertEqual(refused.status, 400, "\(path)?\(bad): \(refused.text)")
                    XCTAssertEqual(refused.errorCode, "invalid_value", refused.text)
                }
            }
            let twice = try await api.get("/v1/listeners?pretty&pretty=1")
            XCTAssertEqual(twice.status, 400, twice.text)
            XCTAssertEqual(twice.errorCode, "duplicate_parameter", twice.text)

            // Not a parameter of what is not JSON.
            let stream = try await api.get("/v1/events?pretty", timeout: .seconds(5))
            XCTAssertEqual(stream.status, 400, stream.text)
            XCTAssertEqual(stream.errorCode, "unknown_parameter", stream.text)
            // And an unknown parameter is still refused, `pretty` named among the known.
            let unknown = try await api.get("/v1/listeners?prettty")
            XCTAssertEqual(unknown.status, 400)
            XCTAssertTrue(unknown.text.contains("known: pretty"), unknown.text)
        }
    }

    private static func canonical(_ body: [UInt8]) throws -> Data {
        var value = try JSONSerialization.jsonObject(with: Data(body))
        // Listeners made a moment apart differ only in their counters: the first is enough.
        if var object = value as? [String: Any], let listeners = object["listeners"] as? [Any] {
            object["listeners"] = Array(listeners.prefix(1))
            value = object
        }
        return try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
    }
}
