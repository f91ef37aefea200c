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

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the service: the control API, listeners and sessions, until SIGTERM or SIGINT."
    )

    @Option(help: ArgumentHelp("Where the control API listens: HOST:PORT, [IPv6]:PORT or unix:/path.", valueName: "address"))
    var api: String = "127.0.0.1:7700"

    @Option(help: ArgumentHelp("The SQLite file for session history (reserved; this version keeps history in memory).", valueName: "path"))
    var db: String = "./switchboard.sqlite3"

    @Option(help: ArgumentHelp("Least severe level logged: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: Logger.Level = .info

    func validate() throws {
        do {
            _ = try Endpoint(parsing: api)
        } catch {
            throw ValidationError("--api: \(error)")
        }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchboard")
        let group = MultiThreadedEventLoopGroup.singleton
        let switchboard = Switchboard(group: group, logger: logger)
        let service = ServiceInfo()

        let bindAddress: BindAddress
        switch try Endpoint(parsing: api) {
        case .host(let host, let port): bindAddress = .hostname(host, port: port)
        case .unix(let path): bindAddress = .unixDomainSocket(path: path)
        }
        let app = Application(
            responder: ControlAPI.responder(switchboard: switchboard, service: service, logger: logger),
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
        // Shut down in reverse: the core first, so sessions close and long-polls return, then the API.
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: [app, CoreService(switchboard: switchboard)],
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
