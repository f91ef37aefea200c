import Foundation
import Logging
import Prometheus
@testable import SwitchboardAPI
import SwitchboardTestSupport
import XCTest

/// `GET /v1/openapi.json` is the API's contract: it must name every route the router has, and
/// no route it lacks.
final class OpenAPITests: XCTestCase {
    func testDocumentIsServedAsOpenAPI31JSON() async throws {
        try await withAPI { api, _ in
            let served = try await api.get("/v1/openapi.json")
            XCTAssertEqual(served.status, 200)
            XCTAssertEqual(served.header("Content-Type"), "application/json; charset=utf-8")
            let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(served.body)) as? [String: Any])
            let version = try XCTUnwrap(document["openapi"] as? String)
            XCTAssertTrue(version.hasPrefix("3.1."), "openapi is \(version), not 3.1.x")
            XCTAssertNotNil(document["paths"] as? [String: Any])
            // The binary carries the repository's file, byte for byte.
            let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("openapi/openapi.json")
            XCTAssertEqual(served.body, Array(try Data(contentsOf: file)), "the served document is not openapi/openapi.json; rebuild")

            let refused = try await api.get("/v1/openapi.json?x=1")
            XCTAssertEqual(refused.status, 400)
            XCTAssertEqual(refused.errorCode, "unknown_parameter")
        }
    }

    func testDocumentNamesEveryRouteAndNoOther() async throws {
        try await withAPIContext { _, context in
            let router = ControlAPI.router(
                switchboard: context.switchboard, history: context.history, writer: context.writer, service: context.service,
                logger: Logger(label: "openapi-test"), events: context.events,
                metrics: MetricsExport(factory: PrometheusMetricsFactory(registry: context.registry))
            )
            let routes = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
            let documented = try Self.documentedOperations()
            XCTAssertFalse(routes.isEmpty)
            XCTAssertEqual(routes.subtracting(documented).sorted(), [], "routes missing from openapi/openapi.json")
            XCTAssertEqual(documented.subtracting(routes).sorted(), [], "documented in openapi/openapi.json but not routed")
        }
    }

    /// Every error answer (4xx, 5xx: not the web view's 304) is documented with the one error shape.
    func testEveryErrorResponseHasTheErrorShape() throws {
        let document = try Self.document()
        let responses = (document["components"] as? [String: Any])?["responses"] as? [String: Any] ?? [:]
        for (template, item) in document["paths"] as? [String: [String: Any]] ?? [:] {
            for (method, operation) in item where Self.methods.contains(method) {
                for (status, response) in (operation as? [String: Any])?["responses"] as? [String: Any] ?? [:] where status.hasPrefix("4") || status.hasPrefix("5") {
                    var response = response as? [String: Any] ?? [:]
                    if let reference = response["$ref"] as? String {
                        response = responses[String(reference.split(separator: "/").last!)] as? [String: Any] ?? [:]
                    }
                    let schema = ((response["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                    XCTAssertEqual(schema?["$ref"] as? String, "#/components/schemas/Error", "\(method.uppercased()) \(template) \(status)")
                }
            }
        }
    }

    static let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]

    static func document() throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(EmbeddedOpenAPI.json.utf8)) as? [String: Any])
    }

    /// "GET /v1/sessions/{id}" for each operation of the document.
    static func documentedOperations() throws -> Set<String> {
        let paths = try XCTUnwrap(try document()["paths"] as? [String: [String: Any]])
        return Set(paths.flatMap { template, item in
            item.keys.filter(methods.contains).map { "\($0.uppercased()) \(template)" }
        })
    }
}
