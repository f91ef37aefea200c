import Hummingbird
import Logging
import NIOPosix
import Prometheus
import ServiceLifecycle
import SwitchboardAPI
import SwitchboardCore
import SwitchboardHistory
import Foundation
import SwitchboardTestSupport
import Synchronization
import XCTest

/// The pieces of a running service that a test may reach behind the API's back.
struct APIContext {
    let switchboard: Switchboard
    let history: HistoryDatabase
    let writer: HistoryWriter
    let service: ServiceInfo
    let events: EventHub
    /// What `/metrics` renders in this API (its own registry: nothing global is bootstrapped).
    let registry: PrometheusCollectorRegistry
}

/// Runs the control API in-process on 127.0.0.1:0, with a history file in a temporary folder,
/// for the length of `body`.
func withAPI(_ body: (HTTPClient, Switchboard) async throws -> Void) async throws {
    try await withAPIContext { api, context in try await body(api, context.switchboard) }
}

func withAPIContext(
    events eventLimits: EventHub.Limits = .init(), token: APIToken? = nil, outboundPolicy: OutboundPolicy = .allowAll,
    _ body: (HTTPClient, APIContext) async throws -> Void
) async throws {
    var logger = Logger(label: "api-test")
    logger.logLevel = .warning
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-api-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let history = try HistoryDatabase(path: folder.appendingPathComponent("history.sqlite3").path)
    let writer = HistoryWriter(database: history, logger: logger)
    let registry = PrometheusCollectorRegistry()
    let events = EventHub(limits: eventLimits, logger: logger, metrics: PrometheusMetricsFactory(registry: registry))
    let switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, observers: [writer, events], store: history, outboundPolicy: outboundPolicy)
    events.attach(switchboard)
    let metrics = MetricsExport(factory: PrometheusMetricsFactory(registry: registry))
    let service = ServiceInfo()
    service.addReadinessCheck { writer.health.problem }
    service.startupFinished()
    let context = APIContext(switchboard: switchboard, history: history, writer: writer, service: service, events: events, registry: registry)
    let port = Mutex<Int?>(nil)
    let app = Application(
        responder: ControlAPI.responder(
            switchboard: switchboard, history: history, writer: writer, service: service, logger: logger, events: events, metrics: metrics, token: token
        ),
        // The service's HTTP/1 pipeline, so that what is tested is what is served.
        server: .http1(configuration: ControlAPI.http1Configuration(limits: .init())),
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            service.address = "127.0.0.1:\(channel.localAddress?.port ?? 0)"
            port.withLock { $0 = channel.localAddress?.port }
        },
        eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton),
        logger: logger
    )
    // As in the service: the event streams end before the HTTP server stops.
    let serviceGroup = ServiceGroup(configuration: .init(services: [app, events, writer], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await serviceGroup.run() }
        defer { group.cancelAll() }
        try await eventually("the API to listen") { port.withLock { $0 } != nil }
        let client = HTTPClient(port: port.withLock { $0 }!)
        let outcome: Result<Void, any Error>
        do {
            try await body(client, context)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await switchboard.shutdown()
        await serviceGroup.triggerGracefulShutdown()
        try await group.next()
        try outcome.get()
    }
}

