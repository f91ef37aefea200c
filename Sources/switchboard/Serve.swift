import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwitchboardAPI
import SwitchboardCore
import SwitchboardHistory

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the service: the control API, listeners and sessions, until SIGTERM or SIGINT."
    )

    @Option(help: ArgumentHelp("Where the control API listens: HOST:PORT, [IPv6]:PORT or unix:/path.", valueName: "address"))
    var api: String = "127.0.0.1:7700"

    @Option(help: ArgumentHelp("The SQLite file of the session history; created and migrated if needed.", valueName: "path"))
    var db: String = "./switchboard.sqlite3"

    @Option(help: ArgumentHelp("Delete closed sessions that opened more than this many days ago.", valueName: "days"))
    var retainDays: Int?

    @Option(help: ArgumentHelp("Keep at most this many sessions in the history, deleting the oldest closed ones.", valueName: "count"))
    var retainSessions: Int?

    @Option(help: ArgumentHelp("Bytes recorded per session with capture on, both directions together; later bytes are not recorded and the session is marked truncated.", valueName: "bytes"))
    var captureLimit: Int = Switchboard.defaultCaptureLimit

    @Option(help: ArgumentHelp("Least severe level logged: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: Logger.Level = .info

    func validate() throws {
        do {
            _ = try Endpoint(parsing: api)
        } catch {
            throw ValidationError("--api: \(error)")
        }
        if let retainDays, retainDays < 1 { throw ValidationError("--retain-days must be at least 1") }
        if let retainSessions, retainSessions < 1 { throw ValidationError("--retain-sessions must be at least 1") }
        guard (0...(1 << 30)).contains(captureLimit) else { throw ValidationError("--capture-limit must be from 0 to 1073741824") }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchboard")
        // A file-size limit (ulimit -f) must fail writes, which the history survives, not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let group = MultiThreadedEventLoopGroup.singleton
        let service = ServiceInfo()

        let history: HistoryDatabase
        do {
            history = try HistoryDatabase(path: db)
        } catch {
            throw StartFailure("cannot open the history file \(db): \(error)")
        }
        let interrupted = try history.markInterrupted()
        if interrupted > 0 {
            logger.warning("sessions left open by the previous run marked interrupted", metadata: ["sessions": "\(interrupted)"])
        }
        let writer = HistoryWriter(database: history, logger: logger)
        service.addReadinessCheck { writer.health.problem }
        let switchboard = Switchboard(group: group, logger: logger, observers: [writer], store: history, captureLimit: captureLimit)

        let bindAddress: BindAddress
        switch try Endpoint(parsing: api) {
        case .host(let host, let port): bindAddress = .hostname(host, port: port)
        case .unix(let path): bindAddress = .unixDomainSocket(path: path)
        }
        let app = Application(
            responder: ControlAPI.responder(switchboard: switchboard, history: history, writer: writer, service: service, logger: logger),
            configuration: ApplicationConfiguration(address: bindAddress, serverName: "switchboard"),
            onServerRunning: { channel in
                let address = Endpoint.describe(channel.localAddress) ?? "?"
                service.address = address
                // End-to-end tests and scripts read this line to learn a port chosen with :0.
                logger.notice("control API listening on \(address)")
            },
            // The API shares the event loops of the sessions it manages.
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        // Saved listeners come back before the API answers, so /readyz never says ready too early.
        service.startupStep("restoring listeners")
        let saved = try history.savedListeners()
        let (restored, failed) = await switchboard.restoreListeners(saved)
        if !saved.isEmpty {
            logger.info("saved listeners restored", metadata: ["restored": "\(restored)", "failed": "\(failed)"])
        }
        service.startupFinished()

        // Shut down in reverse order: the core closes its sessions (long-polls return), the
        // writer then flushes every record, and the API goes last.
        let retention = RetentionService(database: history, policy: RetentionPolicy(days: retainDays, sessions: retainSessions), logger: logger)
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: [app, writer, retention, CoreService(switchboard: switchboard)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        logger.info("switchboard \(ServiceInfo.version) starting", metadata: ["api": "\(api)", "db": "\(db)"])
        do {
            try await serviceGroup.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw StartFailure("cannot listen for the API on \(api): the address is already in use")
        } catch let error as IOError where error.errnoCode == EACCES {
            throw StartFailure("cannot listen for the API on \(api): permission denied")
        }
        logger.info("switchboard stopped")
    }
}

/// Keeps the socket core alive for the life of the service and closes everything on shutdown.
struct CoreService: Service {
    let switchboard: Switchboard

    func run() async throws {
        try? await gracefulShutdown()
        await switchboard.shutdown()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// A reason the service could not start, printed as it is.
struct StartFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
