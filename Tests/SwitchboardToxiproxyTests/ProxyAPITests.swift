import Foundation
import NIOPosix
import SwitchboardTestSupport
import XCTest

/// `/proxies` and `/proxies/{proxy}` as Toxiproxy 2.12 answers them.
final class ProxyAPITests: XCTestCase {
    func testCreateListShowAndDeleteAProxy() async throws {
        try await withToxiproxy { h in
            let empty = try await h.toxi.get("/proxies")
            XCTAssertEqual(empty.status, 200)
            XCTAssertEqual(empty.text, "{}\n", "no proxies is an empty object")

            let created = try await h.toxi.post("/proxies", json: #"{"name":"redis","upstream":"127.0.0.1:6379","listen":"127.0.0.1:0"}"#)
            XCTAssertEqual(created.status, 201, created.text)
            XCTAssertNotEqual(created.listenPort, 0, "listen holds the port bound for :0")
            let body = #"{"name":"redis","listen":"127.0.0.1:\#(created.listenPort)","upstream":"127.0.0.1:6379","enabled":true,"toxics":[]}"#
            XCTAssertEqual(created.text, body + "\n", "the keys in Toxiproxy's order")
            XCTAssertEqual(created.header("Content-Type"), "application/json")

            let defaulted = try await h.toxi.post("/proxies", json: #"{"name":"db","upstream":"localhost:5432"}"#)
            XCTAssertEqual(defaulted.status, 201, defaulted.text)
            XCTAssertTrue((defaulted["listen"] as? String ?? "").hasPrefix("127.0.0.1:"), "no listen: a free port on loopback")

            let list = try await h.toxi.get("/proxies")
            XCTAssertEqual(list.status, 200)
            XCTAssertEqual((try list.json).keys.sorted(), ["db", "redis"])
            XCTAssertTrue(list.text.hasPrefix(#"{"db":"#), "keys sorted, as Go writes a map")

            let shown = try await h.toxi.get("/proxies/redis")
            XCTAssertEqual(shown.text, body + "\n")
            try await h.toxi.get("/proxies/nope").assertError(404, "proxy not found")

            let deleted = try await h.toxi.delete("/proxies/redis")
            XCTAssertEqual(deleted.status, 204)
            XCTAssertTrue(deleted.body.isEmpty)
            try await h.toxi.get("/proxies/redis").assertError(404, "proxy not found")
            try await h.toxi.delete("/proxies/redis").assertError(404, "proxy not found")
            let refused = await connectionRefused(created.listenPort)
            XCTAssertTrue(refused, "a deleted proxy's port is closed")
        }
    }

    func testCreateIsRefusedAsToxiproxyRefusesIt() async throws {
        try await withToxiproxy { h in
            try await h.toxi.post("/proxies", json: #"{"upstream":"127.0.0.1:1"}"#).assertError(400, "missing required field: name")
            try await h.toxi.post("/proxies", json: #"{"name":"","upstream":"127.0.0.1:1"}"#).assertError(400, "missing required field: name")
            try await h.toxi.post("/proxies", json: #"{"name":"a"}"#).assertError(400, "missing required field: upstream")
            try await h.toxi.request("POST", "/proxies").assertError(400, "bad request body: EOF")
            try await h.toxi.post("/proxies", json: #"{"name":7,"upstream":"127.0.0.1:1"}"#).assertError(400, "bad request body: name must be a string")
            try await h.toxi.post("/proxies", json: #"{"name":"a","upstream":"127.0.0.1:1","enabled":"yes"}"#).assertError(400, "bad request body: enabled must be true or false")
            try await h.toxi.post("/proxies", json: "{nope").assertError(400, "bad request body: the body is not valid JSON")
            let badAddress = try await h.toxi.post("/proxies", json: #"{"name":"a","upstream":"nowhere"}"#)
            XCTAssertEqual(badAddress.status, 400)
            XCTAssertTrue((badAddress["error"] as? String ?? "").hasPrefix("bad request body: upstream: "), badAddress.text)
            let badName = try await h.toxi.post("/proxies", json: #"{"name":"a b","upstream":"127.0.0.1:1"}"#)
            XCTAssertEqual(badName.status, 400, badName.text)

            let first = try await h.toxi.post("/proxies", json: #"{"name":"a","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#)
            XCTAssertEqual(first.status, 201)
            try await h.toxi.post("/proxies", json: #"{"name":"a","upstream":"127.0.0.1:2"}"#).assertError(409, "proxy already exists")

            // Toxiproxy's 500: a proxy that cannot start.
            let taken = try await h.toxi.post("/proxies", json: #"{"name":"b","upstream":"127.0.0.1:1","listen":"127.0.0.1:\#(first.listenPort)"}"#)
            XCTAssertEqual(taken.status, 500, taken.text)
            XCTAssertEqual(taken["status"] as? Int, 500)
            try await h.toxi.get("/proxies/b").assertError(404, "proxy not found")
        }
    }

    func testDisablingClosesThePortAndConnectionsAndEnablingListensAgain() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        try await withToxiproxy { h in
            let created = try await h.toxi.post("/proxies", json: #"{"name":"p","upstream":"127.0.0.1:\#(upstream.port)","listen":"127.0.0.1:0"}"#)
            let port = created.listenPort
            let client = try await TestConnection.connect(port: port)
            try await client.send("ping")
            _ = try await client.read(atLeast: 4)

            let disabled = try await h.toxi.post("/proxies/p", json: #"{"enabled":false}"#)
            XCTAssertEqual(disabled.status, 200, disabled.text)
            XCTAssertEqual(disabled["enabled"] as? Bool, false)
            XCTAssertEqual(disabled.listenPort, port)
            try await client.waitForClose()
            let refused = await connectionRefused(port)
            XCTAssertTrue(refused, "a disabled proxy's port is closed")
            let listener = try await h.api.get("/v1/listeners/p")
            XCTAssertEqual(listener["state"] as? String, "disabled", "the main API sees it disabled")

            let enabled = try await h.toxi.patch("/proxies/p", json: #"{"enabled":true}"#)
            XCTAssertEqual(enabled.status, 200, enabled.text)
            XCTAssertEqual(enabled["enabled"] as? Bool, true)
            let again = try await TestConnection.connect(port: port)
            try await again.send("pong")
            _ = try await again.read(atLeast: 4)
            await again.close()

            try await h.toxi.post("/proxies/nope", json: #"{"enabled":false}"#).assertError(404, "proxy not found")
            try await h.toxi.request("POST", "/proxies/p").assertError(400, "bad request body: EOF")
        }
    }

    func testAChangedUpstreamOrListenRestartsTheProxy() async throws {
        let first = try await TestUpstream.start(.echo)
        let second = try await TestUpstream.start(.echo)
        defer { Task { await first.stop(); await second.stop() } }
        try await withToxiproxy { h in
            let created = try await h.toxi.post("/proxies", json: #"{"name":"p","upstream":"127.0.0.1:\#(first.port)","listen":"127.0.0.1:0"}"#)
            let live = try await TestConnection.connect(port: created.listenPort)
            try await live.send("a")
            _ = try await live.read(atLeast: 1)

            // The same listen, spelled as its bound address or as localhost, is no change.
            let same = try await h.toxi.patch("/proxies/p", json: #"{"listen":"localhost:\#(created.listenPort)"}"#)
            XCTAssertEqual(same.status, 200, same.text)
            try await live.send("b")
            _ = try await live.read(atLeast: 2)
            XCTAssertFalse(live.isClosed, "an unchanged listen leaves connections alone")

            let moved = try await h.toxi.patch("/proxies/p", json: #"{"upstream":"127.0.0.1:\#(second.port)"}"#)
            XCTAssertEqual(moved["upstream"] as? String, "127.0.0.1:\(second.port)")
            try await live.waitForClose()
            let next = try await TestConnection.connect(port: created.listenPort)
            try await next.send("c")
            _ = try await next.read(atLeast: 1)
            await next.close()
            XCTAssertEqual(second.accepted, 1)

            let elsewhere = try await h.toxi.post("/proxies/p", json: #"{"listen":"127.0.0.1:0"}"#)
            XCTAssertNotEqual(elsewhere.listenPort, created.listenPort, "port 0 picks a new port")
            XCTAssertEqual(elsewhere["enabled"] as? Bool, true)

            // A listen that cannot be bound leaves the proxy disabled with it: Toxiproxy's 500.
            let blocker = try await h.toxi.post("/proxies", json: #"{"name":"blocker","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#)
            let failed = try await h.toxi.patch("/proxies/p", json: #"{"listen":"127.0.0.1:\#(blocker.listenPort)"}"#)
            XCTAssertEqual(failed.status, 500, failed.text)
            let after = try await h.toxi.get("/proxies/p")
            XCTAssertEqual(after["enabled"] as? Bool, false)
            XCTAssertEqual(after.listenPort, blocker.listenPort)
        }
    }
}
