import Logging
import NIOCore
import ServiceLifecycle
import SwitchboardAPI
import SwitchboardCore
import UnixSignals

/// Where the API may listen without a token.
enum APIExposure {
    /// Loopback (127.0.0.0/8, ::1, `localhost`) or a unix socket (mode 0660): only this
    /// machine, or only its owner and group, can connect.
    static func isLocal(_ endpoint: Endpoint) -> Bool {
        switch endpoint {
        case .unix:
            return true
        case .host(let host, _):
            if host.lowercased() == "localhost" { return true }
            guard let address = try? SocketAddress(ipAddress: host, port: 0) else { return false }
            let loopback = OutboundPolicy(deny: [try! ConnectRule(parsing: "127.0.0.0/8"), try! ConnectRule(parsing: "::1")])
            return loopback.refusal(for: address) != nil
        }
    }
}

/// Re-reads the token file on SIGHUP. A file that cannot be read, or holds no token, leaves the
/// token in use as it was, and says so in the log (never the token itself).
struct TokenReloadService: Service {
    let token: APIToken?
    let path: String?
    let signals: UnixSignalsSequence
    let logger: Logger

    func run() async {
        for await _ in signals.cancelOnGracefulShutdown() {
            guard let token, let path else {
                logger.notice("SIGHUP: no --token-file to re-read")
                continue
            }
            do {
                try token.reload(from: path)
                logger.notice("SIGHUP: the API token was re-read", metadata: ["file": "\(path)"])
            } catch {
                logger.error("SIGHUP: the token file could not be re-read; the previous token stays in use", metadata: ["error": "\(error)"])
            }
        }
    }
}
