import Foundation
import SwitchboardAPI
import SwitchboardCore
import SwitchboardTestSupport
import XCTest

/// `GET /v1/events`, read by a real client over a socket as the events happen.
final class EventsAPITests: XCTestCase {
    private func port(_ created: HTTPResult) -> Int {
        Int((created["address"] as! String).split(separator: ":").last!)!
    }

    func testListenerAndSessionEventsArriveInOrderWithBytesAndReason() async throws {
        try await withAPI { api, _ in
            let stream = try await EventStreamClient.open(port: api.port, "/v1/events")
            XCTAssertEqual(stream.status, 200)
            XCTAssertTrue(stream.head.lowercased().contains("content-type: text/event-stream"), stream.head)
            XCTAssertTrue(stream.head.lowercased().contains("cache-control: no-cache"), stream.head)

            let created = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
            let peer = try await TestConnection.connect(port: port(created))
            try await peer.send("hello")
            try await peer.read(atLeast: 5)
            await peer.close()

            let events = try await stream.waitForEvents("the session to close") { $0.contains { $0.event == "session.closed" } }
            XCTAssertEqual(events.map(\.event), ["listener.created", "session.opened", "session.closed"])
            let ids = events.compactMap(\.id)
            XCTAssertEqual(ids.count, 3, "every event has an id")
            XCTAssertEqual(ids, ids.sorted(), "ids increase")
            XCTAssertEqual(Set(ids).count, 3)
            XCTAssertEqual(events[0]["name"] as? String, "echo")
            XCTAssertEqual(events[0]["state"] as? String, "listening")
            XCTAssertEqual(events[1]["state"] as? String, "open")
            let closed = events[2]
            XCTAssertEqual(closed["id"] as? String, events[1]["id"] as? String)
            XCTAssertEqual(closed["listener"] as? String, "echo")
            XCTAssertEqual(closed["state"] as? String, "closed")
            XCTAssertEqual(closed["close_reason"] as? String, "peer")
            XCTAssertEqual(closed["bytes_in"] as? Int, 5)
            XCTAssertEqual(closed["bytes_out"] as? Int, 5)
            XCTAssertFalse(events.contains { $0.event == "session.data" }, "data events only when asked for")
            await stream.close()
        }
    }

    func testFiltersByListenerAndBySession() async throws {
        try await withAPI { api, _ in
            let a = try await api.post("/v1/listeners", json: #"{"name":"a","address":"127.0.0.1:0","mode":"hold"}"#)
            let b = try await api.post("/v1/listeners", json: #"{"name":"b","address":"127.0.0.1:0","mode":"hold"}"#)
            let first = try await TestConnection.connect(port: port(b))
            var id = ""
            try await eventually("the session on b") {
                id = ((try await api.get("/v1/sessions?listener=b")["sessions"] as? [[String: Any]])?.first?["id"] as? String) ?? ""
                return !id.isEmpty
            }
            let onlyA = try await EventStreamClient.open(port: api.port, "/v1/events?listener=a")
            let onlyFirst = try await EventStreamClient.open(port: api.port, "/v1/events?session=\(id.lowercased())")

            let second = try await TestConnection.connect(port: port(b))
            let onA = try await TestConnection.connect(port: port(a))
            try await eventually("the session on a") {
                (try await api.get("/v1/sessions?listener=a")["sessions"] as? [[String: Any]])?.count == 1
            }
            _ = try await api.post("/v1/listeners", json: #"{"name":"c","address":"127.0.0.1:0","mode":"hold"}"#)
            _ = try await api.delete("/v1/listeners/a")
            // Resets: a hold session outlives its client's FIN, awaiting an answer.
            await first.reset()
            await second.reset()
            await onA.reset()

            let seenA = try await onlyA.waitForEvents("a's session to close") { $0.contains { $0.event == "session.closed" } }
            XCTAssertEqual(seenA.map(\.event), ["session.opened", "listener.deleted", "session.closed"])
            XCTAssertTrue(seenA.allSatisfy { ($0["listener"] as? String ?? $0["name"] as? String) == "a" }, "\(seenA.map(\.data))")

            let seenFirst = try await onlyFirst.waitForEvents("the first session to close") { $0.contains { $0.event == "session.closed" } }
            XCTAssertEqual(seenFirst.map(\.event), ["session.closed"])
            XCTAssertEqual(seenFirst[0]["id"] as? String, id)
            // Everything else that happened is still out of the filtered streams once the
            // unfiltered sequence has moved past it.
            try await eventually("b's second session to close") {
                (try await api.get("/v1/sessions?listener=b&state=open")["sessions"] as? [[String: Any]])?.isEmpty == true
            }
            XCTAssertEqual(onlyFirst.events.count, 1)
            await onlyA.close()
            await onlyFirst.close()
        }
    }

    func testLastEventIDReplaysWhatWasMissedAndSaysWhenEventsWereLost() async throws {
        var limits = EventHub.Limits()
        limits.ringSize = 4
        try await withAPIContext(events: limits) { api, _ in
            let stream = try await EventStreamClient.open(port: api.port, "/v1/events")
            _ = try await api.post("/v1/listeners", json: #"{"name":"one","address":"127.0.0.1:0","mode":"hold"}"#)
            let seen = try await stream.waitForEvent("listener.created")
            await stream.close()
            let last = try XCTUnwrap(seen.id)

            // Missed while away: two events, both still in the ring.
            _ = try await api.post("/v1/listeners", json: #"{"name":"two","address":"127.0.0.1:0","mode":"hold"}"#)
            _ = try await api.delete("/v1/listeners/one")
            let resumed = try await EventStreamClient.open(port: api.port, "/v1/events", headers: [("Last-Event-ID", "\(last)")])
            let replayed = try await resumed.waitForEvents("the two missed events") { $0.count >= 2 }
            XCTAssertEqual(replayed.map(\.event), ["listener.created", "listener.deleted"])
            XCTAssertEqual(replayed.map { $0["name"] as? String }, ["two", "one"])
            XCTAssertTrue(replayed.allSatisfy { ($0.id ?? 0) > last })
            // And live events follow the replay.
            _ = try await api.delete("/v1/listeners/two")
            try await resumed.waitForEvents("the live event after the replay") { $0.count == 3 }
            await resumed.close()

            // Four more events push `last` out of a ring of four: the client is told.
            for name in ["x", "y"] {
                _ = try await api.post("/v1/listeners", json: #"{"name":"\#(name)","address":"127.0.0.1:0","mode":"hold"}"#)
                _ = try await api.delete("/v1/listeners/\(name)")
            }
            let late = try await EventStreamClient.open(port: api.port, "/v1/events", headers: [("Last-Event-ID", "\(last)")])
            let afterLoss = try await late.waitForEvents("lost, then the ring") { $0.count >= 5 }
            XCTAssertEqual(afterLoss.first?.event, "lost")
            XCTAssertNil(afterLoss.first?.id, "lost is outside the sequence")
            XCTAssertEqual(afterLoss.first?["last_event_id"] as? Int, Int(last))
            XCTAssertEqual(afterLoss.dropFirst().map(\.event), ["listener.created", "listener.deleted", "listener.created", "listener.deleted"])
            await late.close()

            // An id from before a restart (this run never reached it): lost, then everything kept.
            let stale = try await EventStreamClient.open(port: api.port, "/v1/events", headers: [("Last-Event-ID", "999999")])
            let fromStale = try await stale.waitForEvents("lost and the ring") { $0.count >= 5 }
            XCTAssertEqual(fromStale.first?.event, "lost")
            await stale.close()
        }
    }

    /// A replay of thousands of events goes out in pieces, not as one chunk of megabytes that a
    /// client's HTTP library must read whole before it hands over the first event.
    func testALargeReplayIsWrittenInPieces() async throws {
        try await withAPIContext { api, _ in
            // 600 events of ~450 bytes: about 270 KB.
            let padding = String(repeating: "p", count: 60)
            for i in 0..<300 {
                _ = try await api.post("/v1/listeners", json: #"{"name":"\#(i)\#(padding)","address":"127.0.0.1:0","mode":"hold"}"#)
                _ = try await api.delete("/v1/listeners/\(i)\(padding)")
            }
            let resumed = try await EventStreamClient.open(port: api.port, "/v1/events", headers: [("Last-Event-ID", "0")])
            let replayed = try await resumed.waitForEvents("the whole replay") { $0.count >= 600 }
            XCTAssertEqual(replayed.count, 600)
            let sizes = resumed.chunkSizes
            XCTAssertGreaterThan(sizes.count, 4, "\(sizes)")
            XCTAssertLessThan(sizes.max() ?? 0, 64 * 1024 + 4096, "\(sizes)")
            await resumed.close()
        }
    }

    func testAClientThatNeverReadsIsDroppedAndTheServiceKeepsAnswering() async throws {
        var limits = EventHub.Limits()
        limits.clientBuffer = 8
        try await withAPIContext(events: limits) { api, context in
            let slow = try await TestConnection.connect(port: api.port, receiveBuffer: 4096)
            try await slow.send("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
            try await eventually("the slow client to be subscribed") { context.events.clientCount == 1 }
            try await slow.stopReading()

            // Big events (a listener's reply travels in its created and deleted events) fill the
            // socket buffers, then the client's queue of 8.
            let reply = String(repeating: "r", count: 200_000)
            var rounds = 0
            while context.events.clientCount > 0 {
                rounds += 1
                guard rounds <= 200 else { throw TimedOut("the slow client was never dropped") }
                let created = try await api.post("/v1/listeners", json: #"{"name":"big","address":"127.0.0.1:0","mode":"reply","reply":"\#(reply)"}"#)
                XCTAssertEqual(created.status, 201, created.text)
                _ = try await api.delete("/v1/listeners/big")
                let health = try await api.get("/healthz")
                XCTAssertEqual(health.status, 200, "the API answers while the client lags")
            }
            // Dropped: its stream ended and let go of the client slot; others are served.
            let fresh = try await EventStreamClient.open(port: api.port, "/v1/events")
            _ = try await api.post("/v1/listeners", json: #"{"name":"after","address":"127.0.0.1:0","mode":"hold"}"#)
            let event = try await fresh.waitForEvent("listener.created")
            XCTAssertEqual(event["name"] as? String, "after")
            XCTAssertEqual(context.events.clientCount, 1)
            XCTAssertTrue(context.registry.emitToString().contains("switchboard_event_clients_dropped_total 1"), context.registry.emitToString())
            await fresh.close()
            await slow.close()
        }
    }

    func testDataEventsWhenAskedForCoalescedAndSizesOnly() async throws {
        var limits = EventHub.Limits()
        // A closed client is noticed at the stream's next write.
        limits.keepAlive = .milliseconds(100)
        try await withAPIContext(events: limits) { api, context in
            let created = try await api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
            XCTAssertFalse(context.switchboard.reportsData, "nobody asked for data events")
            let stream = try await EventStreamClient.open(port: api.port, "/v1/events?data=true&listener=echo")
            XCTAssertTrue(context.switchboard.reportsData)

            let peer = try await TestConnection.connect(port: port(created))
            var sent = 0
            for chunk in 0..<50 {
                try await peer.send(String(repeating: "x", count: 100 + chunk))
                sent += 100 + chunk
            }
            try await peer.read(atLeast: sent)
            await peer.close()
            let events = try await stream.waitForEvents("the close") { $0.contains { $0.event == "session.closed" } }
            let data = events.filter { $0.event == "session.data" }
            let bytesIn = data.filter { $0["direction"] as? String == "in" }.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) }
            let bytesOut = data.filter { $0["direction"] as? String == "out" }.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) }
            XCTAssertEqual(bytesIn, sent, "every byte is reported once, before the close")
            XCTAssertEqual(bytesOut, sent)
            XCTAssertLessThan(data.count, 100, "50 reads and 50 writes come coalesced")
            let closedIndex = events.firstIndex { $0.event == "session.closed" }!
            XCTAssertTrue(events[closedIndex...].allSatisfy { $0.event != "session.data" }, "no data after the close")
            let first = try XCTUnwrap(data.first)
            XCTAssertEqual(Set(first.json.keys), ["session_id", "listener", "direction", "bytes", "at"])
            XCTAssertEqual(first["session_id"] as? String, events.first { $0.event == "session.opened" }?["id"] as? String)
            XCTAssertNil(first["data"], "sizes only, never the bytes")

            await stream.close()
            try await eventually("data reports to stop") { !context.switchboard.reportsData }
        }
    }

    func testRefusalsUnknownParametersBadIDsAndTooManyClients() async throws {
        var limits = EventHub.Limits()
        limits.maxClients = 2
        try await withAPIContext(events: limits) { api, context in
            let unknown = try await api.get("/v1/events?lstener=a")
            XCTAssertEqual(unknown.status, 400)
            XCTAssertEqual(unknown.errorCode, "unknown_parameter")
            let badSession = try await api.get("/v1/events?session=nope")
            XCTAssertEqual(badSession.status, 400)
            XCTAssertEqual(badSession.errorCode, "invalid_value")
            let badID = try await api.request("GET", "/v1/events", extraHeaders: [("Last-Event-ID", "soon")])
            XCTAssertEqual(badID.status, 400)

            let one = try await EventStreamClient.open(port: api.port, "/v1/events")
            let two = try await EventStreamClient.open(port: api.port, "/v1/events?listener=x")
            let three = try await api.get("/v1/events")
            XCTAssertEqual(three.status, 503)
            XCTAssertEqual(three.errorCode, "too_many_clients")
            XCTAssertEqual(context.events.clientCount, 2)
            await one.close()
            await two.close()
        }
    }

    func testStreamsEndWhenTheHubFinishes() async throws {
        try await withAPIContext { api, context in
            let stream = try await EventStreamClient.open(port: api.port, "/v1/events")
            _ = try await api.post("/v1/listeners", json: #"{"name":"last","address":"127.0.0.1:0","mode":"hold"}"#)
            context.events.finish()
            // The queued event is written, then the chunked body ends.
            try await eventually("the end of the body") { stream.connection.receivedText.hasSuffix("0\r\n\r\n") || stream.isClosed }
            XCTAssertEqual(stream.events.map(\.event), ["listener.created"])
            try await eventually("the client slot to be let go") { context.events.clientCount == 0 }
            let refused = try await api.get("/v1/events")
            XCTAssertEqual(refused.status, 503)
            XCTAssertEqual(refused.errorCode, "shutting_down")
            await stream.close()
        }
    }

    func testRejectionsConnectFailuresReconnectsAndFailedListenersAsTheCoreReportsThem() async throws {
        try await withAPIContext { api, context in
            let all = try await EventStreamClient.open(port: api.port, "/v1/events")
            let web = try await EventStreamClient.open(port: api.port, "/v1/events?listener=web")
            let hub = context.events
            let session = SessionID.make()
            hub.connectionRejected(listener: "web", reason: .listenerLimit)
            hub.connectFailed(listener: nil, name: "device", error: SwitchboardError(.connectRefused, "connection refused by 127.0.0.1:1"))
            hub.connectFailed(listener: "web", name: nil, error: SwitchboardError(.connectTimeout, "no answer within 10000 ms"))
            hub.sessionReconnecting(ReconnectStatus(
                name: "device", endpoint: "127.0.0.1:1", state: .waiting, sessionID: session, failures: 3,
                nextAttemptAt: Date(timeIntervalSince1970: 1_800_000_000.5), lastError: "connection refused"
            ))
            let events = try await all.waitForEvents("four events") { $0.count == 4 }
            XCTAssertEqual(events.map(\.event), ["connection.rejected", "connect.failed", "connect.failed", "session.reconnecting"])
            XCTAssertEqual(events[0]["listener"] as? String, "web")
            XCTAssertEqual(events[0]["reason"] as? String, "listener_limit")
            XCTAssertEqual(events[1]["code"] as? String, "connect_failed")
            XCTAssertEqual(events[1]["name"] as? String, "device")
            XCTAssertTrue(events[1].json.keys.contains("listener"), "absent values are null, not missing")
            XCTAssertEqual(events[2]["code"] as? String, "connect_timeout")
            let reconnecting = events[3]
            XCTAssertEqual(reconnecting["state"] as? String, "waiting")
            XCTAssertEqual(reconnecting["session_id"] as? String, session.rawValue)
            XCTAssertEqual(reconnecting["failures"] as? Int, 3)
            XCTAssertEqual(reconnecting["next_attempt_at"] as? String, "2027-01-15T08:00:00.500Z")
            XCTAssertEqual(reconnecting["last_error"] as? String, "connection refused")
            XCTAssertEqual(reconnecting["connect"] as? String, "127.0.0.1:1")

            let forWeb = try await web.waitForEvents("web's two") { $0.count >= 2 }
            XCTAssertEqual(forWeb.map(\.event), ["connection.rejected", "connect.failed"])
            await all.close()
            await web.close()
        }
    }

    func testKeepAliveCommentsWhileNothingHappens() async throws {
        var limits = EventHub.Limits()
        limits.keepAlive = .milliseconds(50)
        try await withAPIContext(events: limits) { api, _ in
            let stream = try await EventStreamClient.open(port: api.port, "/v1/events")
            try await eventually("two keep-alives") { stream.comments.filter { $0 == ": keep-alive" }.count >= 2 }
            XCTAssertTrue(stream.events.isEmpty)
            await stream.close()
        }
    }
}
