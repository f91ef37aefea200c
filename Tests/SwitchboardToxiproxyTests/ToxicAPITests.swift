import Foundation
import SwitchboardTestSupport
import XCTest

/// `/proxies/{proxy}/toxics` and `/proxies/{proxy}/toxics/{toxic}` as Toxiproxy 2.12 answers them.
final class ToxicAPITests: XCTestCase {
    private func proxy(_ h: ToxiproxyHarness, _ name: String = "p") async throws {
        let created = try await h.toxi.post("/proxies", json: #"{"name":"\#(name)","upstream":"127.0.0.1:1","listen":"127.0.0.1:0"}"#)
        XCTAssertEqual(created.status, 201, created.text)
    }

    func testAToxicIsCreatedWithToxiproxysDefaultsAndAnswered200() async throws {
        try await withToxiproxy { h in
            try await proxy(h)
            let latency = try await h.toxi.post("/proxies/p/toxics", json: #"{"type":"latency","attributes":{"latency":100,"unknown":"ignored"}}"#)
            XCTAssertEqual(latency.status, 200, "200, not 201")
            XCTAssertEqual(
                latency.text,
                #"{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"# + "\n",
                "stream downstream, toxicity 1, name TYPE_STREAM, a missing attribute 0, an unknown one ignored"
            )
            let slicer = try await h.toxi.post("/proxies/p/toxics", json: #"{"name":"cut","type":"slicer","stream":"upstream","toxicity":0.5}"#)
            XCTAssertEqual(slicer.text, #"{"attributes":{"average_size":0,"size_variation":0,"delay":0},"name":"cut","type":"slicer","stream":"upstream","toxicity":0.5}"# + "\n")
            let later = try await h.toxi.post("/proxies/p/toxics", json: #"{"type":"bandwidth","stream":"upstream","attributes":{"rate":10}}"#)
            XCTAssertEqual(later["name"] as? String, "bandwidth_upstream")

            let list = try await h.toxi.get("/proxies/p/toxics")
            XCTAssertEqual(list.status, 200)
            XCTAssertEqual(list.array.map { $0["name"] as? String }, ["cut", "bandwidth_upstream", "latency_downstream"], "upstream first, then downstream, each in the order added")
            let proxy = try await h.toxi.get("/proxies/p")
            XCTAssertEqual((proxy["toxics"] as? [[String: Any]])?.map { $0["name"] as? String }, ["cut", "bandwidth_upstream", "latency_downstream"])

            let shown = try await h.toxi.get("/proxies/p/toxics/cut")
            XCTAssertEqual(shown.text, slicer.text)
            try await h.toxi.get("/proxies/p/toxics/nope").assertError(404, "toxic not found")
            try await h.toxi.get("/proxies/nope/toxics").assertError(404, "proxy not found")
            try await h.toxi.get("/proxies/nope/toxics/cut").assertError(404, "proxy not found")
        }
    }

    func testBadToxicsAreRefusedInToxiproxysOrderAndWords() async throws {
        try await withToxiproxy { h in
            try await proxy(h)
            try await h.toxi.post("/proxies/p/toxics", json: #"{"type":"bogus"}"#).assertError(400, "invalid toxic type")
            try await h.toxi.post("/proxies/p/toxics", json: #"{}"#).assertError(400, "invalid toxic type")
            let invalidStream = "stream was invalid, can be either upstream or downstream"
            try await h.toxi.post("/proxies/p/toxics", json: #"{"type":"latency","stream":"sideways"}"#).assertError(400, invalidStream)
            // The stream is checked before the type.
            try await h.toxi.post("/proxies/p/toxics", json: #"{"type":"bogus","stream":""}"#).assertError(400, invalidStream)
            try await h.toxi.request("POST", "/proxies/p/toxics").assertError(400, "bad request body: EOF")
            try await h.toxi.post("/proxies/p/toxics", json: #"{"type":"latency","attributes":{"latency":"100"}}"#)
                .assertError(400, "bad request body: attributes.latency must be a number (ms)")
            let range = try await h.toxi.post("/proxies/p/toxics", json: #"{"type":"latency","toxicity":1.5}"#)
            XCTAssertEqual(range.status, 400, range.text)
            XCTAssertEqual(range["error"] as? String, "toxicity must be from 0.0 to 1.0")
            try await h.toxi.post("/proxies/nope/toxics", json: #"{"type":"latency"}"#).assertError(404, "proxy not found")

            let answer1 = try await h.toxi.post("/proxies/p/toxics", json: #"{"name":"t","type":"latency"}"#)
            XCTAssertEqual(answer1.status, 200)
            try await h.toxi.post("/proxies/p/toxics", json: #"{"name":"t","type":"timeout","stream":"upstream"}"#)
                .assertError(409, "toxic already exists")
            // The name is checked before the attributes.
            try await h.toxi.post("/proxies/p/toxics", json: #"{"name":"t","type":"latency","attributes":{"latency":"x"}}"#)
                .assertError(409, "toxic already exists")
        }
    }

    func testAChangeMergesAttributesAndADeleteAnswers204() async throws {
        try await withToxiproxy { h in
            try await proxy(h)
            _ = try await h.toxi.post("/proxies/p/toxics", json: #"{"name":"slow","type":"latency","attributes":{"latency":100,"jitter":5}}"#)
            let changed = try await h.toxi.post("/proxies/p/toxics/slow", json: #"{"attributes":{"jitter":20}}"#)
            XCTAssertEqual(changed.status, 200, changed.text)
            XCTAssertEqual(changed.text, #"{"attributes":{"latency":100,"jitter":20},"name":"slow","type":"latency","stream":"downstream","toxicity":1}"# + "\n", "merged")
            let patched = try await h.toxi.patch("/proxies/p/toxics/slow", json: #"{"toxicity":0.25,"type":"timeout","stream":"upstream"}"#)
            XCTAssertEqual(patched.text, #"{"attributes":{"latency":100,"jitter":20},"name":"slow","type":"latency","stream":"downstream","toxicity":0.25}"# + "\n", "type and stream stay")
            try await h.toxi.patch("/proxies/p/toxics/nope", json: #"{"toxicity":0.5}"#).assertError(404, "toxic not found")
            try await h.toxi.patch("/proxies/p/toxics/slow", json: #"{"attributes":{"latency":-1}}"#).assertError(400, "attributes.latency must be a whole number from 0 to 86400000 (ms)")
            let answer2 = try await h.toxi.get("/proxies/p/toxics/slow")
            XCTAssertEqual(answer2["toxicity"] as? Double, 0.25, "a refused change changes nothing")

            let deleted = try await h.toxi.delete("/proxies/p/toxics/slow")
            XCTAssertEqual(deleted.status, 204)
            XCTAssertTrue(deleted.body.isEmpty)
            try await h.toxi.delete("/proxies/p/toxics/slow").assertError(404, "toxic not found")
            let answer3 = try await h.toxi.get("/proxies/p/toxics")
            XCTAssertEqual(answer3.text, "[]\n")
        }
    }
}
