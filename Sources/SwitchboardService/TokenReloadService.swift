import Logging
import ServiceLifecycle
import SwitchboardAPI
import UnixSignals

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
