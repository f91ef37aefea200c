import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import Metrics
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
import Foundation

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the service: the control API, listeners and sessions, until SIGTERM or SIGINT."
    )

    @Option(help: ArgumentHelp("Where the control API listens: HOST:PORT, [IPv6]:PORT or unix:/path. Default 127.0.0.1:7700; env SWITCHBOARD_API.", valueName: "address"))
    var api: String?

    @Option(help: ArgumentHelp("The SQLite file of the session history; created and migrated if needed. Default ./switchboard.sqlite3; env SWITCHBOARD_DB.", valueName: "path"))
    var db: String?

    @Option(help: ArgumentHelp("Size of the session spool beside the history file (<db>.spool, allocated in full at start): what happened to sessions, kept through a SIGKILL and while SQLite cannot write; about 1,800,000 session records per 256 MiB. 0 turns it off (a SIGKILL then loses the last 50 ms of sessions). Default 256; env SWITCHBOARD_HISTORY_SPOOL_MB.", valueName: "MiB"))
    var historySpoolMB: Int?

    @Option(help: ArgumentHelp("Delete closed sessions that opened more than this many days ago. Env SWITCHBOARD_RETAIN_DAYS.", valueName: "days"))
    var retainDays: Int?

    @Option(help: ArgumentHelp("Keep at most this many sessions in the history, deleting the oldest closed ones. Env SWITCHBOARD_RETAIN_SESSIONS.", valueName: "count"))
    var retainSessions: Int?

    @Option(help: ArgumentHelp("Bytes recorded per session with capture on, both directions together; later bytes are not recorded and the session is marked truncated. Default 1048576; env SWITCHBOARD_CAPTURE_LIMIT.", valueName: "bytes"))
    var captureLimit: Int?

    @Option(help: ArgumentHelp("Most sessions open at once, service-wide; further connections are refused and counted. Default: the file-descriptor limit less a reserve for the API and the history; env SWITCHBOARD_MAX_SESSIONS.", valueName: "count"))
    var maxSessions: Int?

    @Option(help: ArgumentHelp("Clients reading live events (GET /v1/events) at once; more are answered 503. Default 64; env SWITCHBOARD_MAX_EVENT_CLIENTS.", valueName: "count"))
    var maxEventClients: Int?

    @Option(help: ArgumentHelp("Listeners at once; more are refused with 503. Default 1000; env SWITCHBOARD_MAX_LISTENERS.", valueName: "count"))
    var maxListeners: Int?

    @Option(help: ArgumentHelp("Long-polls (GET .../messages?wait=) waiting on one session at once; more are refused with 503. Default 16; env SWITCHBOARD_MAX_LONG_POLLS.", valueName: "count"))
    var maxLongPolls: Int?

    @Option(help: ArgumentHelp("Bytes of operators' sends one session may hold that its peer has not taken yet; a send past it is refused with 409 send_queue_full (one send alone always waits). Default 4194304; env SWITCHBOARD_MAX_UNSENT_BYTES.", valueName: "bytes"))
    var maxUnsentBytes: Int?

    @Option(help: ArgumentHelp("Largest request body read. Default 1048576; env SWITCHBOARD_MAX_BODY_BYTES.", valueName: "bytes"))
    var maxBodyBytes: Int?

    @Option(help: ArgumentHelp("Largest request header section (all fields). Default 16384; env SWITCHBOARD_MAX_HEADER_BYTES.", valueName: "bytes"))
    var maxHeaderBytes: Int?

    @Option(help: ArgumentHelp("Longest request target (path and query). Default 8192; env SWITCHBOARD_MAX_URL_BYTES.", valueName: "bytes"))
    var maxURLBytes: Int?

    @Option(help: ArgumentHelp("Deepest nesting of a JSON body. Default 16; env SWITCHBOARD_MAX_JSON_DEPTH.", valueName: "levels"))
    var maxJSONDepth: Int?

    @Option(help: ArgumentHelp("Seconds an API client has to send a whole request (and an idle keep-alive connection is kept); slower ones are disconnected. Default 10; env SWITCHBOARD_REQUEST_TIMEOUT.", valueName: "seconds"))
    var requestTimeout: Int?

    @Option(help: ArgumentHelp("Event-loop threads, which carry the sessions and the API. Default: the CPUs this process may run on (its affinity, e.g. systemd's CPUAffinity= or taskset, and any cgroup CPU limit); env SWITCHBOARD_EVENT_LOOPS.", valueName: "count"))
    var eventLoops: Int?

    @Option(help: ArgumentHelp("Least severe level logged: trace, debug, info, notice, warning, error, critical. Default info; env SWITCHBOARD_LOG_LEVEL.", valueName: "level"))
    var logLevel: Logger.Level?

    @Option(help: ArgumentHelp("A file holding the bearer token every API request but /healthz and /readyz must carry (Authorization: Bearer TOKEN); re-read on SIGHUP. Env SWITCHBOARD_TOKEN_FILE.", valueName: "path"))
    var tokenFile: String?

    @Flag(help: "Serve the API on an address other than loopback (127.0.0.0/8, ::1, localhost) or a unix socket without --token-file.")
    var insecureBind = false

    @Option(help: ArgumentHelp("Allow outbound connections (sessions, forward upstreams) only to CIDR[:PORTS] (ports N, N-M or a comma list), or unix:/path-prefix; repeatable. With any allow rule, a target must match one. Env SWITCHBOARD_ALLOW_CONNECT.", valueName: "rule"))
    var allowConnect: [String] = []

    @Option(help: ArgumentHelp("Refuse outbound connections to CIDR[:PORTS] or unix:/path-prefix; repeatable; wins over --allow-connect. Env SWITCHBOARD_DENY_CONNECT.", valueName: "rule"))
    var denyConnect: [String] = []

    /// Flags win over the environment (what systemd's EnvironmentFile sets), which wins over defaults.
    struct Settings {
        var api: Endpoint
        var db: String
        var historySpoolMB: Int
        var retainDays: Int?
        var retainSessions: Int?
        var captureLimit: Int
        var maxEventClients: Int
        var logLevel: Logger.Level
        var eventLoops: Int
        var maxSessions: Int?
        var maxListeners: Int
        var maxLongPolls: Int
        var maxUnsentBytes: Int
        var apiLimits: APILimits
        var tokenFile: String?
        var insecureBind: Bool
        var outboundPolicy: OutboundPolicy
    }

    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Settings {
        func value(_ flag: String?, _ name: String) -> String? {
            flag ?? environment[name].flatMap { $0.isEmpty ? nil : $0 }
        }
        func number(_ flag: Int?, _ name: String, _ option: String) throws -> Int? {
            if let flag { return flag }
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let number = Int(text) else { throw ValidationError("\(name) (\(option)) must be a whole number, not '\(text)'") }
            return number
        }
        let apiText = value(api, "SWITCHBOARD_API") ?? "127.0.0.1:7700"
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint(parsing: apiText)
        } catch {
            throw ValidationError("--api / SWITCHBOARD_API: \(error)")
        }
        var level = Logger.Level.info
        if let logLevel {
            level = logLevel
        } else if let text = environment["SWITCHBOARD_LOG_LEVEL"], !text.isEmpty {
            guard let parsed = Logger.Level(rawValue: text) else { throw ValidationError("SWITCHBOARD_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical") }
            level = parsed
        }
        var settings = Settings(
            api: endpoint,
            db: value(db, "SWITCHBOARD_DB") ?? "./switchboard.sqlite3",
            historySpoolMB: try number(historySpoolMB, "SWITCHBOARD_HISTORY_SPOOL_MB", "--history-spool-mb") ?? SessionSpool.defaultBytes >> 20,
            retainDays: try number(retainDays, "SWITCHBOARD_RETAIN_DAYS", "--retain-days"),
            retainSessions: try number(retainSessions, "SWITCHBOARD_RETAIN_SESSIONS", "--retain-sessions"),
            captureLimit: try number(captureLimit, "SWITCHBOARD_CAPTURE_LIMIT", "--capture-limit") ?? Switchboard.defaultCaptureLimit,
            maxEventClients: try number(maxEventClients, "SWITCHBOARD_MAX_EVENT_CLIENTS", "--max-event-clients") ?? EventHub.Limits().maxClients,
            logLevel: level,
            eventLoops: try number(eventLoops, "SWITCHBOARD_EVENT_LOOPS", "--event-loops") ?? EventLoopCount.usableCPUs(),
            maxSessions: try number(maxSessions, "SWITCHBOARD_MAX_SESSIONS", "--max-sessions"),
            maxListeners: try number(maxListeners, "SWITCHBOARD_MAX_LISTENERS", "--max-listeners") ?? Switchboard.Limits().maxListeners,
            maxLongPolls: try number(maxLongPolls, "SWITCHBOARD_MAX_LONG_POLLS", "--max-long-polls") ?? Switchboard.Limits().maxLongPollsPerSession,
            maxUnsentBytes: try number(maxUnsentBytes, "SWITCHBOARD_MAX_UNSENT_BYTES", "--max-unsent-bytes") ?? Switchboard.Limits.defaultMaxUnsentBytesPerSession,
            apiLimits: APILimits(),
            tokenFile: value(tokenFile, "SWITCHBOARD_TOKEN_FILE"),
            insecureBind: insecureBind,
            outboundPolicy: OutboundPolicy(
                allow: try Self.rules(allowConnect, environment, "SWITCHBOARD_ALLOW_CONNECT", option: "--allow-connect"),
                deny: try Self.rules(denyConnect, environment, "SWITCHBOARD_DENY_CONNECT", option: "--deny-connect")
            )
        )
        var limits = APILimits()
        func limit(_ flag: Int?, _ name: String, _ option: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let value = try number(flag, name, option) else { return nil }
            guard range.contains(value) else { throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound)") }
            return value
        }
        limits.maxBodyBytes = try limit(maxBodyBytes, "SWITCHBOARD_MAX_BODY_BYTES", "--max-body-bytes", 1024...(64 << 20)) ?? limits.maxBodyBytes
        limits.maxHeaderBytes = try limit(maxHeaderBytes, "SWITCHBOARD_MAX_HEADER_BYTES", "--max-header-bytes", 1024...(64 * 1024)) ?? limits.maxHeaderBytes
        limits.maxURLBytes = try limit(maxURLBytes, "SWITCHBOARD_MAX_URL_BYTES", "--max-url-bytes", 256...(64 * 1024)) ?? limits.maxURLBytes
        limits.maxJSONDepth = try limit(maxJSONDepth, "SWITCHBOARD_MAX_JSON_DEPTH", "--max-json-depth", 2...64) ?? limits.maxJSONDepth
        if let seconds = try limit(requestTimeout, "SWITCHBOARD_REQUEST_TIMEOUT", "--request-timeout", 1...3600) {
            limits.requestTimeout = .seconds(seconds)
        }
        settings.apiLimits = limits
        guard (1...1_000_000).contains(settings.maxListeners) else { throw ValidationError("--max-listeners must be from 1 to 1000000") }
        guard (1...10_000).contains(settings.maxLongPolls) else { throw ValidationError("--max-long-polls must be from 1 to 10000") }
        guard (1...(1 << 30)).contains(settings.maxUnsentBytes) else { throw ValidationError("--max-unsent-bytes must be from 1 to 1073741824") }
        if let max = settings.maxSessions, max < 1 { throw ValidationError("--max-sessions must be at least 1") }
        guard settings.historySpoolMB == 0 || (1...65_536).contains(settings.historySpoolMB) else {
            throw ValidationError("--history-spool-mb must be 0 (off) or from 1 to 65536")
        }
        if let days = settings.retainDays, days < 1 { throw ValidationError("--retain-days must be at least 1") }
        if let count = settings.retainSessions, count < 1 { throw ValidationError("--retain-sessions must be at least 1") }
        guard (0...(1 << 30)).contains(settings.captureLimit) else { throw ValidationError("--capture-limit must be from 0 to 1073741824") }
        guard (0...10_000).contains(settings.maxEventClients) else { throw ValidationError("--max-event-clients must be from 0 to 10000") }
        guard (1...256).contains(settings.eventLoops) else { throw ValidationError("--event-loops must be from 1 to 256") }
        return settings
    }

    /// The flags' rules, or else the environment's list; a bad rule is named.
    static func rules(_ flags: [String], _ environment: [String: String], _ name: String, option: String) throws -> [ConnectRule] {
        do {
            if !flags.isEmpty { return try flags.map { rule throws(ConnectRuleError) in try ConnectRule(parsing: rule) } }
        } catch {
            throw ValidationError("\(option): \(error)")
        }
        do {
            return try OutboundPolicy.parseList(environment[name] ?? "")
        } catch {
            throw ValidationError("\(name) (\(option)): \(error)")
        }
    }

    func validate() throws {
        _ = try settings()
    }

    func run() async throws {
        let settings = try settings()
        let activation = SocketActivation()
        // Refused before anything is opened or created. The check is for --api only: a socket
        // systemd passes was placed there by its unit.
        if activation?.api == nil, settings.tokenFile == nil, !settings.insecureBind, !APIExposure.isLocal(settings.api) {
            throw StartFailure(
                "refusing to serve the API on \(settings.api) without a token: anyone who can reach that address could control the service. "
                    + "Give --token-file PATH (or SWITCHBOARD_TOKEN_FILE), listen on loopback or a unix socket, or pass --insecure-bind to accept the risk."
            )
        }
        let token: APIToken?
        do {
            token = try settings.tokenFile.map { path throws(TokenFileError) in try APIToken(file: path) }
        } catch {
            throw StartFailure("\(error); the service needs a readable token file with one token to start")
        }
        // Trapped before the API answers, so a SIGHUP never meets the default action (exit).
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let journal = StderrLogHandler.stderrIsJournal()
        LoggingSystem.bootstrap { label in
            var handler = StderrLogHandler(label: label, journal: journal)
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "switchboard")
        // One registry for everything the process measures; GET /metrics renders it.
        let metricsFactory = Self.metricsFactory()
        MetricsSystem.bootstrap(metricsFactory)
        let notifier = SystemdNotifier()
        let db = settings.db
        let api = settings.api.description
        // A file-size limit (ulimit -f) must fail writes, which the history survives, not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: settings.eventLoops)
        let service = ServiceInfo()

        let history: HistoryDatabase
        do {
            history = try HistoryDatabase(path: db)
        } catch {
            throw StartFailure("cannot open the history file \(db): \(error)")
        }
        // What the spool kept goes into the file before open sessions are marked interrupted: a
        // session a killed run had already closed is then closed, not interrupted.
        let spool = try Self.openSpool(beside: db, megabytes: settings.historySpoolMB, history: history, logger: logger)
        let interrupted = try history.markInterrupted()
        if interrupted > 0 {
            logger.warning("sessions left open by the previous run marked interrupted", metadata: ["sessions": "\(interrupted)"])
        }
        let writer = HistoryWriter(database: history, spool: spool, logger: logger)
        service.addReadinessCheck { writer.health.problem }
        let descriptors = FileDescriptorBudget.raiseSoftLimit()
        let maxSessions = settings.maxSessions ?? descriptors.defaultMaxSessions
        if maxSessions > descriptors.defaultMaxSessions {
            logger.warning("--max-sessions is above what the file-descriptor limit leaves; the API may run out of descriptors", metadata: ["max_sessions": "\(maxSessions)", "fd_limit": "\(descriptors.limit)"])
        }
        var eventLimits = EventHub.Limits()
        eventLimits.maxClients = settings.maxEventClients
        let events = EventHub(limits: eventLimits, logger: logger)
        let sessionMetrics = SessionMetrics()
        let switchboard = Switchboard(
            group: group, logger: logger, observers: [writer, events, sessionMetrics], store: history,
            captureLimit: settings.captureLimit,
            limits: Switchboard.Limits(maxSessions: maxSessions, maxListeners: settings.maxListeners, maxLongPollsPerSession: settings.maxLongPolls,
                                   maxUnsentBytesPerSession: settings.maxUnsentBytes),
            outboundPolicy: settings.outboundPolicy
        )
        events.attach(switchboard)
        let metrics = MetricsExport(factory: metricsFactory) { sessionMetrics.collect(from: switchboard) }

        let bindAddress: BindAddress
        switch settings.api {
        case .host(let host, let port): bindAddress = .hostname(host, port: port)
        case .unix(let path): bindAddress = .unixDomainSocket(path: path)
        }
        let responder = ControlAPI.responder(
            switchboard: switchboard, history: history, writer: writer, service: service, logger: logger, events: events, metrics: metrics,
            limits: settings.apiLimits, token: token
        )
        let onServerRunning: @Sendable (any Channel) async -> Void = { channel in
            if case .unixDomainSocket = channel.localAddress, let path = channel.localAddress?.pathname {
                // Owner and group only: whoever can connect controls the service.
                if chmod(path, 0o660) != 0 {
                    logger.error("could not set the API socket's mode to 0660", metadata: ["path": "\(path)", "error": "\(String(cString: strerror(errno)))"])
                }
            }
            let address = Endpoint.describe(channel.localAddress) ?? "?"
            service.address = address
            // End-to-end tests and scripts read this line to learn a port chosen with :0.
            logger.notice("control API listening on \(address)")
            // Saved listeners were restored before the server started, so this is ready.
            notifier?.ready(status: "serving the API on \(address); \(switchboard.counts.listeners) listeners")
        }
        let app: any Service
        if let socket = activation?.api {
            // systemd owns the API's socket (switchboard.socket): serve on it; --api is not bound.
            logger.info("serving the API on the socket systemd passed", metadata: ["fd": "\(socket.fd)", "name": "\(socket.name)"])
            app = InheritedSocketServer(
                socket: socket.fd, group: group, responder: responder, serverName: "switchboard", logger: logger,
                configuration: ControlAPI.http1Configuration(limits: settings.apiLimits), onServerRunning: onServerRunning
            )
        } else {
            app = Application(
                responder: responder,
                server: .http1(configuration: ControlAPI.http1Configuration(limits: settings.apiLimits)),
                configuration: ApplicationConfiguration(address: bindAddress, serverName: "switchboard"),
                onServerRunning: onServerRunning,
                // The API shares the event loops of the sessions it manages.
                eventLoopGroupProvider: .shared(group),
                logger: logger
            )
        }
        // Saved listeners come back before the API answers, so /readyz never says ready too early.
        service.startupStep("restoring listeners")
        notifier?.status("restoring saved listeners")
        let saved = try history.savedListeners()
        let (restored, failed) = await switchboard.restoreListeners(saved)
        if !saved.isEmpty {
            logger.info("saved listeners restored", metadata: ["restored": "\(restored)", "failed": "\(failed)"])
        }
        let reconnecting = await switchboard.restoreReconnecting(try history.savedReconnecting())
        if reconnecting > 0 {
            logger.info("reconnecting sessions restored", metadata: ["sessions": "\(reconnecting)"])
        }
        service.startupFinished()

        // Shut down in reverse order: the core closes its sessions (long-polls return), the
        // writer then flushes every record, the live event streams write their last events and
        // end, and the API goes last (with no stream left open to wait for).
        let retention = RetentionService(database: history, policy: RetentionPolicy(days: settings.retainDays, sessions: settings.retainSessions), logger: logger)
        let reload = TokenReloadService(token: token, path: settings.tokenFile, signals: hangups, logger: logger)
        var services: [any Service] = [app, events, writer, retention, CoreService(switchboard: switchboard, notifier: notifier), reload]
        if let watchdog = WatchdogService(notifier: notifier, group: group, logger: logger) {
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
            "api": "\(api)", "db": "\(db)", "event_loops": "\(settings.eventLoops)", "max_sessions": "\(maxSessions)", "fd_limit": "\(descriptors.limit)",
            "auth": "\(settings.tokenFile.map { "bearer token from \($0)" } ?? "none")",
            "allow_connect": "\(settings.outboundPolicy.allow.map(\.description).joined(separator: " "))",
            "deny_connect": "\(settings.outboundPolicy.deny.map(\.description).joined(separator: " "))",
        ])
        if token == nil, activation?.api == nil, !APIExposure.isLocal(settings.api) {
            logger.warning("the API needs no token: anyone who can connect to it controls the service")
        }
        do {
            try await serviceGroup.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw StartFailure("cannot listen for the API on \(api): the address is already in use")
        } catch let error as IOError where error.errnoCode == EACCES {
            throw StartFailure("cannot listen for the API on \(api): permission denied")
        }
        try? await group.shutdownGracefully()
        logger.info("switchboard stopped")
    }
}

/// Keeps the socket core alive for the life of the service and closes everything on shutdown.
struct CoreService: Service {
    let switchboard: Switchboard
    let notifier: SystemdNotifier?

    func run() async throws {
        try? await gracefulShutdown()
        notifier?.stopping(status: "closing \(switchboard.counts.openSessions) sessions")
        await switchboard.shutdown()
    }
}

extension Serve {
    /// Replays what an earlier run left in the spool, then creates it afresh.
    ///
    /// A spool that cannot be read, or records SQLite will not take, stop the start: creating
    /// the spool afresh would throw them away. A spool that cannot be created (the disk has no
    /// room for it) leaves the service running without one, loudly.
    static func openSpool(beside db: String, megabytes: Int, history: HistoryDatabase, logger: Logger) throws -> SessionSpool? {
        guard let path = SessionSpool.path(besideDatabase: db) else { return nil }
        func replay(_ recovery: SessionSpool.Recovery) throws {
            do {
                let replayed = try history.replay(recovery)
                if replayed > 0 {
                    logger.notice("sessions recovered from the spool into the history", metadata: [
                        "sessions": "\(replayed)", "records": "\(recovery.count)", "torn": "\(recovery.tornRecords)",
                    ])
                }
            } catch {
                throw StartFailure("cannot replay the session spool \(path) into the history: \(error)")
            }
        }
        guard megabytes > 0 else {
            try replay(try SessionSpool.recover(at: path))
            // Replayed, so nothing is lost by removing it; left behind it would replay again.
            unlink(path)
            logger.warning("no session spool (--history-spool-mb 0): a SIGKILL loses the sessions of the last batch window")
            return nil
        }
        do {
            return try SessionSpool.open(at: path, bytes: megabytes << 20, replay: replay)
        } catch let failure as SessionSpool.Failure where failure.kind == .noRoom {
            // Whatever the file held was replayed before its creation could fail.
            unlink(path)
            logger.critical("cannot create the session spool: a SIGKILL loses the sessions of the last batch window, a full disk those past 200,000 records", metadata: [
                "error": "\(failure)",
            ])
            return nil
        } catch let failure as SessionSpool.Failure {
            throw StartFailure("\(failure)")
        }
    }

    /// Prometheus behind swift-metrics, with buckets that fit what is measured.
    static func metricsFactory() -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
        let fast: [Duration] = [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5)]
        factory.durationHistogramBuckets = [
            "switchboard_history_write_duration_seconds": fast,
            "switchboard_http_request_duration_seconds": fast + [.seconds(10), .seconds(30), .seconds(60)],
        ]
        factory.valueHistogramBuckets = ["switchboard_history_batch_records": [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 20_000, 100_000, 200_000]]
        return factory
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// A reason the service could not start, printed as it is.
struct StartFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// How many event loops to run by default.
///
/// NIO's own count (`System.coreCount`) honours a cgroup's CPU quota and cpuset but not the
/// process's CPU affinity, so a service pinned to one core (CPUAffinity=, taskset) would run a
/// loop per online CPU, all on that core: measured on 2 CPUs with the service pinned to one, the
/// churn benchmark spent 84 and 71 µs of CPU per session with one loop against 116 and 91 with two
/// (the loops preempt each other).
enum EventLoopCount {
    static func usableCPUs(status: String? = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) -> Int {
        let affinity = status.flatMap(allowedCPUs(status:))
        // At most 256, the most --event-loops takes: a bigger machine still starts.
        return Swift.max(1, Swift.min(affinity ?? System.coreCount, System.coreCount, 256))
    }

    /// The CPUs in the `Cpus_allowed:` mask of /proc/self/status (hex words separated by commas);
    /// Glibc's module does not export sched_getaffinity.
    static func allowedCPUs(status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else { return nil }
        var count = 0
        for digit in line.dropFirst("Cpus_allowed:".count) where digit != "," && !digit.isWhitespace {
            guard let value = digit.hexDigitValue else { return nil }
            count += value.nonzeroBitCount
        }
        return count > 0 ? count : nil
    }
}

/// File descriptors: the soft limit is raised to the hard one (systemd starts services at 1024
/// soft), and sessions may use all but a reserve, so the API, the history file and systemd's
/// sockets still get descriptors when sessions hit the limit.
enum FileDescriptorBudget {
    struct Budget {
        let limit: Int
        var defaultMaxSessions: Int { Swift.max(1, limit - reserve) }
        var reserve: Int { Swift.max(64, Swift.min(1024, limit / 8)) }
    }

    static func raiseSoftLimit() -> Budget {
        var limits = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return Budget(limit: 1024) }
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limits = raised }
        }
        return Budget(limit: Int(clamping: limits.rlim_cur == rlim_t.max ? 1 << 20 : limits.rlim_cur))
    }
}
