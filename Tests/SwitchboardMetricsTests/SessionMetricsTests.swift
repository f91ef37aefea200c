import Foundation
import Prometheus
import SwitchboardCore
import SwitchboardMetrics
import XCTest

/// The observer against a registry of its own, so nothing global is bootstrapped.
final class SessionMetricsTests: XCTestCase {
    private func make() -> (SessionMetrics, PrometheusCollectorRegistry) {
        let registry = PrometheusCollectorRegistry()
        return (SessionMetrics(factory: PrometheusMetricsFactory(registry: registry)), registry)
    }

    private func session(
        _ id: SessionID, listener: String?, role: SessionRole = .server, state: SessionState = .open,
        reason: CloseReason? = nil, in bytesIn: UInt64 = 0, out bytesOut: UInt64 = 0
    ) -> SessionInfo {
        SessionInfo(
            id: id, role: role, listener: listener, name: nil, localAddress: "127.0.0.1:9000", remoteAddress: "127.0.0.1:50000",
            state: state, openedAt: Date(), closedAt: state == .closed ? Date() : nil, closeReason: reason,
            bytesIn: bytesIn, bytesOut: bytesOut, capture: false, captureTruncated: false
        )
    }

    /// The value of one sample line, e.g. `switchboard_bytes_total{listener="a",direction="in"}`.
    private func value(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) && !line.hasPrefix("#") {
            let (series, number) = (line.split(separator: " ").dropLast().joined(separator: " "), line.split(separator: " ").last!)
            guard series == name || series.hasPrefix(name + "{") else { continue }
            if labels.allSatisfy({ series.contains("\($0.key)=\"\($0.value)\"") }) { return Double(number) }
        }
        return nil
    }

    func testCountsSessionsByListenerRoleAndBucketedReason() {
        let (metrics, registry) = make()
        let a = SessionID.make(), b = SessionID.make()
        metrics.sessionOpened(session(a, listener: "web"))
        metrics.sessionOpened(session(b, listener: nil, role: .client))
        metrics.sessionClosed(session(a, listener: "web", state: .closed, reason: .error("connection timed out after 3 s to 10.0.0.1")))
        metrics.sessionClosed(session(b, listener: nil, role: .client, state: .closed, reason: .peer))
        let text = registry.emitToString()
        XCTAssertEqual(value(text, SessionMetrics.Name.sessionsOpened, ["listener": "web", "role": "server"]), 1)
        XCTAssertEqual(value(text, SessionMetrics.Name.sessionsOpened, ["listener": "", "role": "client"]), 1)
        XCTAssertEqual(value(text, SessionMetrics.Name.sessionsClosed, ["listener": "web", "reason": "error"]), 1)
        XCTAssertEqual(value(text, SessionMetrics.Name.sessionsClosed, ["listener": "", "reason": "peer"]), 1)
        XCTAssertFalse(text.contains("timed out"), "an error's text is never a label:\n\(text)")
        XCTAssertFalse(text.contains(a.rawValue) || text.contains("127.0.0.1"), "no session ids or addresses:\n\(text)")
    }

    func testBytesMoveWhileOpenAndEachByteCountsOnce() {
        let (metrics, registry) = make()
        let id = SessionID.make()
        metrics.sessionOpened(session(id, listener: "echo"))
        metrics.collect(openSessions: [session(id, listener: "echo", in: 100, out: 100)], listeners: 1)
        var text = registry.emitToString()
        XCTAssertEqual(value(text, SessionMetrics.Name.bytes, ["listener": "echo", "direction": "in"]), 100)
        XCTAssertEqual(value(text, SessionMetrics.Name.openSessions, ["listener": "echo", "role": "server"]), 1)
        XCTAssertEqual(value(text, SessionMetrics.Name.listeners), 1)

        // An older snapshot (a concurrent scrape) never counts backwards or twice.
        metrics.collect(openSessions: [session(id, listener: "echo", in: 250, out: 250)], listeners: 1)
        metrics.collect(openSessions: [session(id, listener: "echo", in: 200, out: 200)], listeners: 1)
        text = registry.emitToString()
        XCTAssertEqual(value(text, SessionMetrics.Name.bytes, ["listener": "echo", "direction": "out"]), 250)

        // The close counts only what the scrapes had not.
        metrics.beginScrape()
        metrics.sessionClosed(session(id, listener: "echo", state: .closed, reason: .peer, in: 300, out: 260))
        // A scrape that listed the session just before it closed adds nothing.
        metrics.collect(openSessions: [session(id, listener: "echo", in: 300, out: 260)], listeners: 1)
        XCTAssertEqual(metrics.closedDuringScrapes, 0, "forgotten once no scrape runs")
        metrics.collect(openSessions: [], listeners: 0)
        text = registry.emitToString()
        XCTAssertEqual(value(text, SessionMetrics.Name.bytes, ["listener": "echo", "direction": "in"]), 300)
        XCTAssertEqual(value(text, SessionMetrics.Name.bytes, ["listener": "echo", "direction": "out"]), 260)
        XCTAssertEqual(value(text, SessionMetrics.Name.openSessions, ["listener": "echo", "role": "server"]), 0, "the gauge falls when the last one closes")
        XCTAssertEqual(value(text, SessionMetrics.Name.listeners), 0)
    }

    func testClosesWithoutAScrapeAreNotRemembered() {
        // Once a set of every closed session, which grew for the life of a service nobody scraped.
        let (metrics, registry) = make()
        for _ in 0..<1000 {
            let id = SessionID.make()
            metrics.sessionOpened(session(id, listener: "echo"))
            metrics.sessionClosed(session(id, listener: "echo", state: .closed, reason: .peer, in: 1, out: 1))
        }
        XCTAssertEqual(metrics.closedDuringScrapes, 0)
        metrics.beginScrape()
        let late = SessionID.make()
        metrics.sessionClosed(session(late, listener: "echo", state: .closed, reason: .peer, in: 5, out: 5))
        XCTAssertEqual(metrics.closedDuringScrapes, 1, "a close during a scrape is remembered until it ends")
        metrics.collect(openSessions: [session(late, listener: "echo", in: 5, out: 5)], listeners: 1)
        XCTAssertEqual(metrics.closedDuringScrapes, 0)
        XCTAssertEqual(value(registry.emitToString(), SessionMetrics.Name.bytes, ["listener": "echo", "direction": "in"]), 1005)
    }

    func testRejectionsAndConnectFailuresByKind() {
        let (metrics, registry) = make()
        metrics.connectionRejected(listener: "web", reason: .listenerLimit)
        metrics.connectionRejected(listener: "web", reason: .listenerLimit)
        metrics.connectFailed(listener: nil, name: "device", error: SwitchboardError(.connectRefused, "connection refused by 10.1.2.3:80"))
        metrics.connectFailed(listener: "fwd", name: nil, error: SwitchboardError(.connectTimeout, "timed out"))
        let text = registry.emitToString()
        XCTAssertEqual(value(text, SessionMetrics.Name.rejected, ["listener": "web", "reason": "listener_limit"]), 2)
        XCTAssertEqual(value(text, SessionMetrics.Name.connectFailures, ["kind": "refused"]), 1)
        XCTAssertEqual(value(text, SessionMetrics.Name.connectFailures, ["kind": "timeout"]), 1)
        XCTAssertFalse(text.contains("10.1.2.3") || text.contains("device"), text)
    }
}
