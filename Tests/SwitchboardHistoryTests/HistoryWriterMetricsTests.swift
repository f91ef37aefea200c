import Foundation
import Logging
import Prometheus
import SwitchboardCore
@testable import SwitchboardHistory
import XCTest

/// The writer's metrics, into a registry of the test's own (nothing global is bootstrapped).
final class HistoryWriterMetricsTests: XCTestCase {
    private func session() -> SessionInfo {
        SessionInfo(
            id: .make(), role: .server, listener: "m", name: nil, localAddress: nil, remoteAddress: nil,
            state: .open, openedAt: Date(), closedAt: nil, closeReason: nil, bytesIn: 0, bytesOut: 0,
            capture: false, captureTruncated: false
        )
    }

    private func sample(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    func testWrittenBatchesLatencyQueueDepthAndDrops() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-wm-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var logger = Logger(label: "writer-metrics")
        logger.logLevel = .critical
        let registry = PrometheusCollectorRegistry()
        var limits = HistoryWriter.Limits()
        limits.maxQueuedRecords = 3
        let writer = HistoryWriter(
            database: try HistoryDatabase(path: folder.appendingPathComponent("h.sqlite3").path), limits: limits,
            logger: logger, metrics: PrometheusMetricsFactory(registry: registry)
        )
        for _ in 0..<4 { writer.sessionOpened(session()) }
        let flushed = await writer.flush()
        XCTAssertTrue(flushed)

        let text = registry.emitToString()
        XCTAssertEqual(sample(text, "switchboard_history_records_written_total"), 3, text)
        XCTAssertEqual(sample(text, "switchboard_history_records_dropped_total"), 1, text)
        XCTAssertEqual(sample(text, "switchboard_history_queue_depth"), 3, "the depth the batch was taken at:\n\(text)")
        XCTAssertEqual(sample(text, "switchboard_history_batch_records_count"), 1, text)
        XCTAssertEqual(sample(text, "switchboard_history_batch_records_sum"), 3, text)
        XCTAssertEqual(sample(text, "switchboard_history_write_duration_seconds_count"), 1, text)
    }
}
