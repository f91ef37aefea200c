import Foundation
import NIOPosix
import SwitchboardCore
import SwitchboardService
import SwitchboardTestSupport
import XCTest

/// `/version`, the error shape, the browser guard, the start-up refusal, and the two APIs
/// seeing each other's work.
final class ServerAPITests: XCTestCase {
    func testVersionIsToxiproxysWithSwitchboardsAsBuildMetadata() async throws {
        try await withToxiproxy { h in
            let version = try await h.toxi.get("/version")
            XCTAssertEqual(version.status, 200)
            XCTAssertEqual(version.text, #"{"version": "2.12.0+switchboard.0.1.0"}"# + "\n", "Toxiproxy's bytes, a space after the colon")
            XCTAssertEqual(version.header("Content-Type"), "application/json;charset=utf-8")
        }
    }

    func testUnknownPathsMethodsAndBrowsersAreRefusedInTheErrorShape() async throws {
        try await withToxiproxy { h in
            try await h.toxi.get("/nope").assertError(404, "no endpoint at /nope")
            let wrongMethod = try await h.toxi.request("PUT", "/proxies")
            wrongMethod.assertError(405, "PUT is not allowed on /proxies; allowed: GET, POST")
            XCTAssertEqual(wrongMethod.header("Allow"), "GET, POST")
            try await h.toxi.get("/reset").assertError(405, "GET is not allowed on /reset; allowed: POST")
            // Toxiproxy's guard against a web page driving it from a browser.
            let browser = try await h.toxi.request("GET", "/proxies", extraHeaders: [("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")])
            browser.assertError(403, "User agent not allowed")
            let client = try await h.toxi.request("GET", "/proxies", extraHeaders: [("User-Agent", "toxiproxy-cli/2.12.0 linux/amd64")])
            XCTAssertEqual(client.status, 200)
            let answer1 = try await h.api.get("/v1/info")
            XCTAssertEqual(answer1.status, 200, "the main API has no such guard")
        }
    }

    func testWhatOneAPIMakesTheOtherSeesAndChanges() async throws {
        try await withToxiproxy { h in
            _ = try await h.toxi.post("/proxies", json: #"{"name":"p","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#)
            let listener = try await h.api.get("/v1/listeners/p")
            XCTAssertEqual(listener.status, 200)
            XCTAssertEqual(listener["mode"] as? String, "forward")
            XCTAssertEqual(listener["forward_to"] as? String, "127.0.0.1:1")

            let added = try await h.api.post("/v1/listeners/p/faults", json: #"{"name":"slow","type":"latency","direction":"upstream","attributes":{"latency":7}}"#)
            XCTAssertEqual(added.status, 201, added.text)
            let toxic = try await h.toxi.get("/proxies/p/toxics/slow")
            XCTAssertEqual(toxic.text, #"{"attributes":{"latency":7,"jitter":0},"name":"slow","type":"latency","stream":"upstream","toxicity":1}"# + "\n")

            _ = try await h.toxi.post("/proxies/p/toxics", json: #"{"type":"blackhole"}"#)
            let faults = try await h.api.get("/v1/listeners/p/faults")
            XCTAssertEqual((faults["faults"] as? [[String: Any]])?.map { $0["name"] as? String }, ["slow", "blackhole_downstream"], "switchboard's own types too")

            _ = try await h.api.post("/v1/listeners", json: #"{"name":"front","address":"127.0.0.1:0","mode":"forward","forward_to":"127.0.0.1:2"}"#)
            _ = try await h.api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
            let answer2 = try await h.toxi.get("/proxies")
            XCTAssertEqual(try answer2.json.keys.sorted(), ["front", "p"], "forward listeners are proxies; others are not")
            try await h.toxi.get("/proxies/echo").assertError(404, "proxy not found")

            let answer3 = try await h.toxi.delete("/proxies/front")
            XCTAssertEqual(answer3.status, 204)
            let answer4 = try await h.api.get("/v1/listeners/front")
            XCTAssertEqual(answer4.status, 404)
        }
    }

    func testTheToxiproxyAPIListensOnlyOnLoopbackOrAUnixSocketUnlessInsecureBindSaysSo() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-toxi-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let token = folder.appendingPathComponent("token")
        try "secret-token".write(to: token, atomically: true, encoding: .utf8)
        let settings = Settings(
            api: .host("127.0.0.1", port: 0), toxiproxyAPI: .host("0.0.0.0", port: 0), db: folder.appendingPathComponent("h.sqlite3").path,
            historySpoolMB: 1, logLevel: .warning, tokenFile: token.path
        )
        do {
            _ = try await buildService(settings, environment: [:], eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
            XCTFail("a Toxiproxy API on 0.0.0.0 must be refused, token or not")
        } catch let failure as StartFailure {
            XCTAssertTrue(failure.description.contains("refusing to serve the Toxiproxy API on 0.0.0.0:0"), failure.description)
            XCTAssertFalse(FileManager.default.fileExists(atPath: settings.db), "refused before anything is made")
        }
    }
}
