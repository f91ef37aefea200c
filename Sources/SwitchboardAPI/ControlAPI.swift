import Hummingbird
import HummingbirdCore
import Logging
import SwitchboardCore
import SwitchboardHistory

/// The JSON-over-HTTP control API: builds the responder that the HTTP server runs.
public enum ControlAPI {
    /// `events` serves `/v1/events`, `metrics` serves `/metrics` and counts every request;
    /// without them those paths are 404s. With `token`, every path but `/healthz`, `/readyz`
    /// and the web view's files (`/ui`) needs `Authorization: Bearer TOKEN`.
    public static func responder(
        switchboard: Switchboard, history: any HistoryReading, writer: HistoryWriter?, service: ServiceInfo, logger: Logger,
        events: EventHub? = nil, metrics: MetricsExport? = nil, limits: APILimits = .init(), token: APIToken? = nil
    ) -> some HTTPResponder<APIRequestContext> {
        ClientDisconnect.Responder(limits: limits, inner: router(
            switchboard: switchboard, history: history, writer: writer, service: service, logger: logger,
            events: events, metrics: metrics, limits: limits, token: token
        ).buildResponder())
    }

    /// The router with every route, for the responder (and for a test that compares the routes
    /// with the OpenAPI document).
    static func router(
        switchboard: Switchboard, history: any HistoryReading, writer: HistoryWriter?, service: ServiceInfo, logger: Logger,
        events: EventHub? = nil, metrics: MetricsExport? = nil, limits: APILimits = .init(), token: APIToken? = nil
    ) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let routeTable = RouteTable()
        // Outside the error middleware, so it records the status the client got.
        if let metrics { router.add(middleware: RequestMetricsMiddleware(factory: metrics.factory)) }
        // First, so that it wraps every route and the router's own not-found answer.
        router.add(middleware: ErrorMiddleware(routes: routeTable, logger: logger))
        // Inside the error middleware, so a 401 has the JSON shape; before any route, so an
        // unknown path without the token is a 401, not a 404.
        if let token { router.add(middleware: BearerAuthMiddleware(token: token)) }
        // After the refusals that need no body, so that they go out before the client sends one.
        router.add(middleware: RequestHeadMiddleware())
        let serviceRoutes = ServiceController(switchboard: switchboard, service: service, history: history, writer: writer)
        router.get("/", use: serviceRoutes.index)
        router.get("healthz", use: serviceRoutes.health)
        router.get("readyz", use: serviceRoutes.ready)
        let v1 = router.group("v1")
        v1.get("info", use: serviceRoutes.info)
        v1.get("openapi.json", use: OpenAPIController().document)
        WebViewController().addRoutes(to: router.group("ui"))
        let listeners = v1.group("listeners")
        ListenersController(switchboard: switchboard, instance: service.instance).addRoutes(to: listeners)
        FaultsController.listeners(switchboard).addRoutes(to: listeners)
        let sessions = v1.group("sessions")
        SessionsController(switchboard: switchboard, instance: service.instance).addRoutes(to: sessions)
        FaultsController.sessions(switchboard).addRoutes(to: sessions)
        HistoryController(history: history).addRoutes(to: v1.group("history"))
        if let events { EventsController(hub: events, instance: service.instance).addRoutes(to: v1.group("events")) }
        if let metrics { router.get("metrics", use: MetricsController(export: metrics).scrape) }
        routeTable.set(router.routes.map { ($0.method, $0.path) })
        return router
    }
}

extension ControlAPI {
    /// The HTTP/1 settings of the API's server, bound or inherited alike.
    public static func http1Configuration(limits: APILimits) -> HTTP1Channel.Configuration {
        HTTP1Channel.Configuration(additionalChannelHandlers: [
            HTTP1RequestRules.Installer(), ClientDisconnect.Handler(), RequestDeadlineHandler(timeout: limits.requestTimeout),
        ])
    }
}
