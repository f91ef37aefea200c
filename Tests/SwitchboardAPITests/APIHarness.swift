import Foundation
import NIOPosix
import Prometheus
import SwitchboardAPI
import SwitchboardCore
import SwitchboardHistory
import SwitchboardService
import SwitchboardTestSupport
import XCTest

/// The pieces of a running service that a test may reach behind the API's back.
struct APIContext {
    let switchboard: Switchboard
    let history: any HistoryStore
    let writer: HistoryWriter
    let service: ServiceInfo
    let events: EventHub
    /// What `/metrics` renders in this API (its own registry: nothing global is bootstrapped).
    let registry: PrometheusCollectorRegistry
}

/// Runs the service as `serve` builds it, in-process on 127.0.0.1:0 with a history file in a
/// temporary folder, for the length of `body`.
func withAPI(_ body: (HTTPClient, Switchboard) async throws -> Void) async throws {
    try await withAPIContext { api, context in try await body(api, context.switchboard) }
}

func withAPIContext(
    events eventLimits: EventHub.Limits = .init(), token: APIToken? = nil, outboundPolicy: OutboundPolicy = .allowAll,
    _ body: (HTTPClient, APIContext) async throws -> Void
) async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-api-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let settings = Settings(
        api: .host("127.0.0.1", port: 0), db: folder.appendingPathComponent("history.sqlite3").path,
        // The smallest spool: the service's, without allocating 256 MiB per test.
        historySpoolMB: 1, eventLimits: eventLimits, logLevel: .warning, outboundPolicy: outboundPolicy
    )
    // No systemd here, whatever the test runner's environment says. The shared loops, never shut
    // down: Hummingbird's server can release its quiescing helper after the service group has
    // returned, and the helper's deinit fails a promise on the loops, which a group stopped by
    // then refuses (an ERROR line now, a crash in later NIO versions).
    let service = try await buildService(settings, environment: [:], token: token, eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
    let context = APIContext(
        switchboard: service.switchboard, history: service.history, writer: service.writer, service: service.info, events: service.events,
        registry: service.metrics.registry
    )
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await service.run() }
        defer { group.cancelAll() }
        try await eventually("the API to listen") { service.apiAddress?.port != nil }
        let client = HTTPClient(port: service.apiAddress!.port!)
        let outcome: Result<Void, any Error>
        do {
            try await body(client, context)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        // As served: the core closes its sessions, the writer flushes, the event streams end,
        // then the HTTP server stops.
        await service.serviceGroup.triggerGracefulShutdown()
        try await group.next()
        try outcome.get()
    }
}
