import Foundation
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import SwitchboardAPI
import SwitchboardCore
import SwitchboardHistory
import SwitchboardMetrics
import SwitchboardSystemd
import UnixSignals

/// Builds the whole service from its settings: the history (the spool replayed, sessions a
/// killed run left open marked interrupted), the socket core and what observes it, saved
/// listeners and reconnecting sessions restored, the control API, and the ServiceGroup that
/// runs them. `switchboard serve` runs what this returns, and so do the API tests, so what is
/// tested is what is served.
///
/// What belongs to the process stays with the caller, since a test process builds many services
/// but may bootstrap only once: LoggingSystem, MetricsSystem and signal dispositions. The
/// service's instruments are made on `metrics`, which `/metrics` renders, bootstrapped or not.
/// systemd's variables (NOTIFY_SOCKET, WATCHDOG_USEC, LISTEN_FDS) are read from `environment`.
/// `token` is for a caller holding the token already; otherwise it is read from
/// `settings.tokenFile`. Without `eventLoopGroup`, the service runs `settings.eventLoops` loops
/// of its own and stops them when it stops; a caller's group is the caller's to stop.
public func buildService(
    _ settings: Settings, metrics metricsFactory: PrometheusMetricsFactory = .switchboard(),
    environment: [String: String] = ProcessInfo.processInfo.environment, token preread: APIToken? = nil,
    eventLoopGroup: (any EventLoopGroup)? = nil
) async throws -> BuiltService {
    let activation = SocketActivation(environment: environment)
    // Refused before anything is opened or created. The check is for --api only: a socket
    // systemd passes was placed there by its unit.
    if activation?.api == nil, preread == nil, settings.tokenFile == nil, !settings.insecureBind, !APIExposure.isLocal(settings.api) {
        throw StartFailure(
            "refusing to serve the API on \(settings.api) without a token: anyone who can reach that address could control the service. "
                + "Give --token-file PATH (or SWITCHBOARD_TOKEN_FILE), listen on loopback or a unix socket, or pass --insecure-bind to accept the risk."
        )
    }
    if let refusal = ToxiproxyServer.refusal(settings) { throw refusal }
    let token: APIToken?
    do {
        token = try preread ?? settings.tokenFile.map { path throws(TokenFileError) in try APIToken(file: path) }
    } catch {
        throw StartFailure("\(error); the service needs a readable token file with one token to start")
    }
    // Trapped before the API answers, so a SIGHUP never meets the default action (exit).
    let hangups = await UnixSignalsSequence(trapping: .sighup)
    // The level on the logger too, for a process that bootstrapped no handler that knows it.
    var serviceLogger = Logger(label: "switchboard")
    serviceLogger.logLevel = settings.logLevel
    let logger = serviceLogger
    let notifier = SystemdNotifier(environment: environment)
    let ownGroup = eventLoopGroup == nil ? MultiThreadedEventLoopGroup(numberOfThreads: settings.eventLoops) : nil
    let group: any EventLoopGroup = eventLoopGroup ?? ownGroup!
    // A start that fails from here on stops the loops it made (a test builds many services in
    // one process); a built service's `run()` stops them.
    var unusedGroup = ownGroup
    defer { if let unusedGroup { unusedGroup.shutdownGracefully { _ in } } }
    let info = ServiceInfo(instance: settings.instance)

    let (history, spoolPath) = try await openHistory(settings, environment: environment, group: group, logger: logger)
    // A start that fails from here on lets go of the store (its lock, its lease).
    var unusedHistory: (any HistoryStore)? = history
    defer { if let unusedHistory { Task { await unusedHistory.close() } } }
    // What the spool kept goes into the history before open sessions are marked interrupted: a
    // session a killed run had already closed is then closed, not interrupted.
    let spool = try await SessionSpool.openAtStartup(at: spoolPath, megabytes: settings.historySpoolMB, history: history, logger: logger)
    let interrupted: Int
    do {
        interrupted = try await history.markInterrupted()
    } catch {
        throw StartFailure("cannot mark the sessions the previous run left open in \(history.location): \(error)")
    }
    if interrupted > 0 {
        logger.warning("sessions left open by the previous run marked interrupted", metadata: ["sessions": "\(interrupted)", "instance": "\(settings.instance)"])
    }
    let writer = HistoryWriter(database: history, spool: spool, logger: logger, metrics: metricsFactory)
    info.addReadinessCheck { writer.health.problem }
    let descriptors = FileDescriptorBudget.raiseSoftLimit()
    let maxSessions = settings.maxSessions ?? descriptors.defaultMaxSessions
    if maxSessions > descriptors.defaultMaxSessions {
        logger.warning("--max-sessions is above what the file-descriptor limit leaves; the API may run out of descriptors", metadata: ["max_sessions": "\(maxSessions)", "fd_limit": "\(descriptors.limit)"])
    }
    let events = EventHub(limits: settings.eventLimits, logger: logger, metrics: metricsFactory)
    let sessionMetrics = SessionMetrics(factory: metricsFactory)
    let switchboard = Switchboard(
        group: group, logger: logger, observers: [writer, events, sessionMetrics], store: history,
        captureLimit: settings.captureLimit,
        limits: Switchboard.Limits(maxSessions: maxSessions, maxListeners: settings.maxListeners, maxLongPollsPerSession: settings.maxLongPolls,
                                   maxUnsentBytesPerSession: settings.maxUnsentBytes),
        outboundPolicy: settings.outboundPolicy
    )
    events.attach(switchboard)
    let metrics = MetricsExport(factory: metricsFactory) { sessionMetrics.collect(from: switchboard) }

    let responder = ControlAPI.responder(
        switchboard: switchboard, history: history, writer: writer, service: info, logger: logger, events: events, metrics: metrics,
        limits: settings.apiLimits, token: token
    )
    let bound = BoundAddress()
    let app = makeAPIServer(responder: responder, settings: settings, socket: activation?.api, group: group, logger: logger) { channel in
        apiListening(channel, switchboard: switchboard, info: info, bound: bound, notifier: notifier, logger: logger)
    }
    // Saved listeners come back before the API answers, so /readyz never says ready too early.
    info.startupStep("restoring listeners")
    notifier?.status("restoring saved listeners")
    let saved = try await history.savedListeners()
    let (restored, failed) = await switchboard.restoreListeners(saved)
    if !saved.isEmpty {
        logger.info("saved listeners restored", metadata: ["restored": "\(restored)", "failed": "\(failed)"])
    }
    let reconnecting = await switchboard.restoreReconnecting(try await history.savedReconnecting())
    if let file = history as? HistoryDatabase, let others = try? file.storedForOtherInstances(), !others.isEmpty {
        logger.warning("the history file holds listeners or reconnecting sessions of other instances, not restored; start with their --instance to serve them", metadata: [
            "instance": "\(settings.instance)", "others": "\(others.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))",
        ])
    }
    if reconnecting > 0 {
        logger.info("reconnecting sessions restored", metadata: ["sessions": "\(reconnecting)"])
    }
    info.startupFinished()

    // Shut down in reverse order: the core closes its sessions (long-polls return), the
    // writer then flushes every record, the live event streams write their last events and
    // end, and the API goes last (with no stream left open to wait for).
    let retention = RetentionService(database: history, policy: RetentionPolicy(days: settings.retainDays, sessions: settings.retainSessions), logger: logger)
    let reload = TokenReloadService(token: token, path: settings.tokenFile, signals: hangups, logger: logger)
    var services: [any Service] = [app, events, writer, retention, CoreService(switchboard: switchboard, notifier: notifier), reload]
    // Stopped just before the main API, after the core has closed its sessions.
    let toxiproxyBound = BoundAddress()
    if let toxiproxy = ToxiproxyServer.make(settings: settings, switchboard: switchboard, bound: toxiproxyBound, group: group, logger: logger) {
        services.insert(toxiproxy, at: 1)
    }
    if let watchdog = WatchdogService(notifier: notifier, group: group, logger: logger, environment: environment) {
        services.insert(watchdog, at: 0)
    }
    let serviceGroup = ServiceGroup(
        configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
    )
    logger.info("switchboard \(ServiceInfo.version) starting", metadata: [
        "api": "\(settings.api)", "toxiproxy_api": "\(settings.toxiproxyAPI.map(\.description) ?? "off")", "db": "\(history.location)", "instance": "\(settings.instance)", "event_loops": "\(settings.eventLoops)", "max_sessions": "\(maxSessions)", "fd_limit": "\(descriptors.limit)",
        "auth": "\(settings.tokenFile.map { "bearer token from \($0)" } ?? "none")",
        "allow_connect": "\(settings.outboundPolicy.allow.map(\.description).joined(separator: " "))",
        "deny_connect": "\(settings.outboundPolicy.deny.map(\.description).joined(separator: " "))",
    ])
    if token == nil, activation?.api == nil, !APIExposure.isLocal(settings.api) {
        logger.warning("the API needs no token: anyone who can connect to it controls the service")
    }
    unusedGroup = nil
    unusedHistory = nil
    return BuiltService(
        serviceGroup: serviceGroup, switchboard: switchboard, history: history, writer: writer, info: info, events: events,
        metrics: metrics, ownGroup: ownGroup, bound: bound, toxiproxyBound: toxiproxyBound, api: settings.api.description, toxiproxyAPI: settings.toxiproxyAPI?.description, logger: logger
    )
}
