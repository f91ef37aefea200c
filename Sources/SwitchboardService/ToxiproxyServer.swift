#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SwitchboardAPI
import SwitchboardCore
import SwitchboardToxiproxy

/// Toxiproxy's HTTP API, when `--toxiproxy-api` asks for it: a second server in the service,
/// on the same event loops, over the same core.
enum ToxiproxyServer {
    /// Toxiproxy's clients send no token, so the token cannot protect this port: it may listen
    /// only where the main API may listen without one (loopback, a unix socket), whether or not
    /// `--token-file` is set, unless `--insecure-bind` accepts the risk.
    static func refusal(_ settings: Settings) -> StartFailure? {
        guard let address = settings.toxiproxyAPI, !settings.insecureBind, !APIExposure.isLocal(address) else { return nil }
        return StartFailure(
            "refusing to serve the Toxiproxy API on \(address): its clients send no token, so anyone who can reach that address could change the proxies. "
                + "Listen on loopback (127.0.0.1:8474) or a unix socket, or pass --insecure-bind to accept the risk."
        )
    }

    static func make(settings: Settings, switchboard: Switchboard, bound: BoundAddress, group: any EventLoopGroup, logger: Logger) -> (any Service)? {
        guard let address = settings.toxiproxyAPI else { return nil }
        let bindAddress: BindAddress
        switch address {
        case .host(let host, let port): bindAddress = .hostname(host, port: port)
        case .unix(let path): bindAddress = .unixDomainSocket(path: path)
        }
        if settings.tokenFile != nil, case .host = address {
            logger.warning("the Toxiproxy API needs no token (its clients send none): any process on this machine can change the proxies through it", metadata: ["address": "\(address)"])
        }
        return Application(
            responder: ToxiproxyAPI.responder(switchboard: switchboard, serviceVersion: ServiceInfo.version, logger: logger),
            server: .http1(configuration: ToxiproxyAPI.http1Configuration),
            configuration: ApplicationConfiguration(address: bindAddress, serverName: "switchboard"),
            onServerRunning: { channel in
                if case .unixDomainSocket = channel.localAddress, let path = channel.localAddress?.pathname, chmod(path, 0o660) != 0 {
                    logger.error("could not set the Toxiproxy API socket's mode to 0660", metadata: ["path": "\(path)"])
                }
                bound.address = channel.localAddress
                // End-to-end tests and scripts read this line to learn a port chosen with :0.
                logger.notice("Toxiproxy API listening on \(Endpoint.describe(channel.localAddress) ?? "?")")
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
    }
}
