import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import SwitchboardCore

/// Toxiproxy's HTTP API (its 2.12 contract) over the socket core, on a port of its own, so
/// that Toxiproxy's clients drive switchboard unchanged: a proxy is a forward listener and a
/// toxic a fault on it.
public enum ToxiproxyAPI {
    /// The Toxiproxy release whose API this answers.
    public static let compatibleVersion = "2.12.0"

    /// `GET /version` answers `compatibleVersion` with `serviceVersion` as semver build
    /// metadata (`2.12.0+switchboard.0.1.0`): a client comparing versions sees 2.12.0.
    public static func responder(switchboard: Switchboard, serviceVersion: String, logger: Logger) -> some HTTPResponder<BasicRequestContext> {
        router(switchboard: switchboard, serviceVersion: serviceVersion, logger: logger).buildResponder()
    }

    static func router(switchboard: Switchboard, serviceVersion: String, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let routes = ToxiproxyRoutes()
        router.add(middleware: ToxiproxyErrorMiddleware(routes: routes, logger: logger))
        router.add(middleware: BrowserGuardMiddleware())
        let book = ProxyBook(switchboard: switchboard)
        ServerController(book: book, version: "\(compatibleVersion)+switchboard.\(serviceVersion)").addRoutes(to: router)
        ProxiesController(book: book).addRoutes(to: router)
        ToxicsController(book: book).addRoutes(to: router)
        routes.set(router.routes.map { ($0.method, $0.path) })
        return router
    }

    /// The HTTP/1 settings of its server: an idle connection is closed after 60 s, as
    /// Toxiproxy's server does.
    public static var http1Configuration: HTTP1Channel.Configuration { HTTP1Channel.Configuration(idleTimeout: .seconds(60)) }
}
