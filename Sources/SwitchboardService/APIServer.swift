#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import SwitchboardAPI
import SwitchboardCore
import SwitchboardSystemd

/// The control API's HTTP server: on the socket systemd passed, or bound to `settings.api`.
func makeAPIServer(
    responder: some HTTPResponder<APIRequestContext>, settings: Settings, socket: SocketActivation.Socket?, group: any EventLoopGroup,
    logger: Logger, onServerRunning: @escaping @Sendable (any Channel) async -> Void
) -> any Service {
    if let socket {
        // systemd owns the API's socket (switchboard.socket): serve on it; --api is not bound.
        logger.info("serving the API on the socket systemd passed", metadata: ["fd": "\(socket.fd)", "name": "\(socket.name)"])
        return InheritedSocketServer(
            socket: socket.fd, group: group, responder: responder, serverName: "switchboard", logger: logger,
            configuration: ControlAPI.http1Configuration(limits: settings.apiLimits), onServerRunning: onServerRunning
        )
    }
    let bindAddress: BindAddress
    switch settings.api {
    case .host(let host, let port): bindAddress = .hostname(host, port: port)
    case .unix(let path): bindAddress = .unixDomainSocket(path: path)
    }
    return Application(
        responder: responder,
        server: .http1(configuration: ControlAPI.http1Configuration(limits: settings.apiLimits)),
        configuration: ApplicationConfiguration(address: bindAddress, serverName: "switchboard"),
        onServerRunning: onServerRunning,
        // The API shares the event loops of the sessions it manages.
        eventLoopGroupProvider: .shared(group),
        logger: logger
    )
}

/// What happens once the API listens: a unix socket gets its mode, the address is published
/// (in the log, on `/v1/info`, to the builder's caller) and systemd hears the service is ready.
func apiListening(
    _ channel: any Channel, switchboard: Switchboard, info: ServiceInfo, bound: BoundAddress, notifier: SystemdNotifier?, logger: Logger
) {
    if case .unixDomainSocket = channel.localAddress, let path = channel.localAddress?.pathname {
        // Owner and group only: whoever can connect controls the service.
        if chmod(path, 0o660) != 0 {
            logger.error("could not set the API socket's mode to 0660", metadata: ["path": "\(path)", "error": "\(String(cString: strerror(errno)))"])
        }
    }
    let address = Endpoint.describe(channel.localAddress) ?? "?"
    info.address = address
    bound.address = channel.localAddress
    // End-to-end tests and scripts read this line to learn a port chosen with :0.
    logger.notice("control API listening on \(address)")
    // Saved listeners were restored before the server started, so this is ready.
    notifier?.ready(status: "serving the API on \(address); \(switchboard.counts.listeners) listeners")
}
