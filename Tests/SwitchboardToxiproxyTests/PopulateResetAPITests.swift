import Foundation
import SwitchboardTestSupport
import XCTest

/// `POST /populate` and `POST /reset`.
final class PopulateResetAPITests: XCTestCase {
    func testPopulateKeepsWhatIsTheSameReplacesWhatDiffersAndMakesTheRest() async throws {
        try await withToxiproxy { h in
            let kept = try await h.toxi.post("/proxies", json: #"{"name":"kept","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#)
            _ = try await h.toxi.post("/proxies/kept/toxics", json: #"{"type":"latency","attributes":{"latency":5}}"#)
            _ = try await h.toxi.post("/proxies/kept", json: #"{"enabled":false}"#)
            let moved = try await h.toxi.post("/proxies", json: #"{"name":"moved","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#)
            _ = try await h.toxi.post("/proxies/moved/toxics", json: #"{"type":"timeout"}"#)
            _ = try await h.toxi.post("/proxies", json: #"{"name":"unlisted","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#)

            let body = """
                [{"name":"kept","upstream":"127.0.0.1:1","listen":"127.0.0.1:\(kept.listenPort)"},
                 {"name":"moved","upstream":"127.0.0.1:2","listen":"127.0.0.1:\(moved.listenPort)"},
                 {"name":"new","upstream":"127.0.0.1:3","listen":"127.0.0.1:0","enabled":false,
                  "toxics":[{"type":"bandwidth","attributes":{"rate":1}},{"name":"rst","type":"reset_peer","stream":"upstream"}]}]
                """
            let populated = try await h.toxi.post("/populate", json: body)
            XCTAssertEqual(populated.status, 201, populated.text)
            let proxies = try XCTUnwrap(populated["proxies"] as? [[String: Any]])
            XCTAssertEqual(proxies.map { $0["name"] as? String }, ["kept", "moved", "new"])

            let keptNow = try await h.toxi.get("/proxies/kept")
            XCTAssertEqual(keptNow["enabled"] as? Bool, false, "left as it is: still disabled")
            XCTAssertEqual((keptNow["toxics"] as? [[String: Any]])?.count, 1, "left as it is: its toxic kept")
            let movedNow = try await h.toxi.get("/proxies/moved")
            XCTAssertEqual(movedNow["upstream"] as? String, "127.0.0.1:2")
            XCTAssertEqual((movedNow["toxics"] as? [[String: Any]])?.count, 0, "replaced without toxics")
            XCTAssertEqual(movedNow["enabled"] as? Bool, true)
            let new = try await h.toxi.get("/proxies/new")
            XCTAssertEqual(new["enabled"] as? Bool, false)
            XCTAssertEqual((new["toxics"] as? [[String: Any]])?.map { $0["name"] as? String }, ["rst", "bandwidth_downstream"], "made with its toxics")
            let answer1 = try await h.toxi.get("/proxies/unlisted")
            XCTAssertEqual(answer1.status, 200, "a proxy not listed stays")

            // Port 0 always counts as different: the proxy is replaced on a new port.
            let again = try await h.toxi.post("/populate", json: #"[{"name":"kept","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}]"#)
            XCTAssertEqual(again.status, 201, again.text)
            let replaced = try await h.toxi.get("/proxies/kept")
            XCTAssertNotEqual(replaced.listenPort, kept.listenPort)
            XCTAssertEqual((replaced["toxics"] as? [[String: Any]])?.count, 0)
            XCTAssertEqual(replaced["enabled"] as? Bool, true)

            let nothing = try await h.toxi.post("/populate", json: "[]")
            XCTAssertEqual(nothing.status, 201)
            XCTAssertEqual(nothing.text, #"{"proxies":[]}"# + "\n")
        }
    }

    func testTheWholeListIsCheckedBeforeAnythingIsMade() async throws {
        try await withToxiproxy { h in
            let good = #"{"name":"a","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#
            try await h.toxi.post("/populate", json: "[\(good),{\"name\":\"b\"}]").assertError(400, "missing required field: upstream at proxy 2")
            try await h.toxi.post("/populate", json: "[\(good),{\"upstream\":\"127.0.0.1:1\"}]").assertError(400, "missing required field: name at proxy 2")
            try await h.toxi.post("/populate", json: "[\(good),{\"name\":\"b\",\"upstream\":\"127.0.0.1:1\",\"toxics\":[{\"type\":\"bogus\"}]}]")
                .assertError(400, "invalid toxic type (toxic 1) at proxy 2")
            try await h.toxi.post("/populate", json: "[\(good),{\"name\":\"b\",\"upstream\":\"127.0.0.1:1\",\"toxics\":[{\"type\":\"latency\"},{\"type\":\"latency\"}]}]")
                .assertError(409, "toxic already exists (toxic 2) at proxy 2")
            try await h.toxi.post("/populate", json: good).assertError(400, "bad request body: the body must be an array")
            try await h.toxi.request("POST", "/populate").assertError(400, "bad request body: EOF")
            let answer2 = try await h.toxi.get("/proxies")
            XCTAssertEqual(answer2.text, "{}\n", "nothing was made")

            // A listener of another mode is not a proxy to replace.
            _ = try await h.api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
            let clash = try await h.toxi.post("/populate", json: "[\(good),{\"name\":\"echo\",\"upstream\":\"127.0.0.1:1\"}]")
            XCTAssertEqual(clash.status, 409, clash.text)
            let answer3 = try await h.toxi.get("/proxies")
            XCTAssertEqual(answer3.text, "{}\n")

            // An address that cannot be bound stops it part way, as in Toxiproxy: what was made, and the error.
            let blocker = try await h.toxi.post("/proxies", json: #"{"name":"blocker","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#)
            let partway = try await h.toxi.post("/populate", json: "[\(good),{\"name\":\"c\",\"upstream\":\"127.0.0.1:1\",\"listen\":\"127.0.0.1:\(blocker.listenPort)\"}]")
            XCTAssertEqual(partway.status, 500, partway.text)
            XCTAssertEqual(partway["status"] as? Int, 500)
            XCTAssertEqual((partway["proxies"] as? [[String: Any]])?.map { $0["name"] as? String }, ["a"])
        }
    }

    func testResetEnablesEveryProxyAndRemovesEveryToxic() async throws {
        try await withToxiproxy { h in
            let a = try await h.toxi.post("/proxies", json: #"{"name":"a","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#)
            _ = try await h.toxi.post("/proxies/a/toxics", json: #"{"type":"latency","attributes":{"latency":5}}"#)
            _ = try await h.toxi.post("/proxies/a/toxics", json: #"{"type":"timeout","stream":"upstream"}"#)
            _ = try await h.toxi.post("/proxies", json: #"{"name":"b","upstream":"127.0.0.1:1","listen":"127.0.0.1:0","enabled":false}"#)
            let reset = try await h.toxi.request("POST", "/reset")
            XCTAssertEqual(reset.status, 204)
            XCTAssertTrue(reset.body.isEmpty)
            let proxies = try await h.toxi.get("/proxies").json
            XCTAssertEqual(proxies.keys.sorted(), ["a", "b"], "no proxy deleted")
            for case let proxy as [String: Any] in proxies.values {
                XCTAssertEqual(proxy["enabled"] as? Bool, true)
                XCTAssertEqual((proxy["toxics"] as? [Any])?.count, 0)
            }
            let answer4 = try await h.toxi.get("/proxies/a")
            XCTAssertEqual(answer4.listenPort, a.listenPort, "an enabled proxy is not restarted")
        }
    }
}
