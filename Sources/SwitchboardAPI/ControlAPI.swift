import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import SwitchboardCore
import SwitchboardHistory
import Synchronization

/// The JSON-over-HTTP control API: builds the responder that the HTTP server runs.
public enum ControlAPI {
    /// `events` serves `/v1/events`, `metrics` serves `/metrics` and counts every request;
    /// without them those paths are 404s. With `token`, every path but `/healthz` and
    /// `/readyz` needs `Authorization: Bearer TOKEN`.
    public static func responder(
        switchboard: Switchboard, history: HistoryDatabase, writer: HistoryWriter?, service: ServiceInfo, logger: Logger,
        events: EventHub? = nil, metrics: MetricsExport? = nil, limits: APILimits = .init(), token: APIToken? = nil
    ) -> some HTTPResponder<APIRequestContext> {
        ClientDisconnect.Responder(inner: router(
            switchboard: switchboard, history: history, writer: writer, service: service, logger: logger,
            events: events, metrics: metrics, limits: limits, token: token
        ).buildResponder())
    }

    /// The router with every route, for the responder (and for a test that compares the routes
    /// with the OpenAPI document).
    static func router(
        switchboard: Switchboard, history: HistoryDatabase, writer: HistoryWriter?, service: ServiceInfo, logger: Logger,
        events: EventHub? = nil, metrics: MetricsExport? = nil, limits: APILimits = .init(), token: APIToken? = nil
    ) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let routeTable = RouteTable()
        // First: every middleware after it, and every route, reads the limits from the context.
        router.add(middleware: LimitsMiddleware(limits: limits))
        // Outside the error middleware, so it records the status the client got.
        if let metrics { router.add(middleware: RequestMetricsMiddleware(factory: metrics.factory)) }
        // First, so that it wraps every route and the router's own not-found answer.
        router.add(middleware: ErrorMiddleware(routes: routeTable, logger: logger))
        // Inside the error middleware, so a 401 has the JSON shape; before any route, so an
        // unknown path without the token is a 401, not a 404.
        if let token { router.add(middleware: BearerAuthMiddleware(token: token)) }
        router.add(middleware: RequestHeadSizeMiddleware())
        // After the refusals that need no body, so that they go out before the client sends one.
        router.add(middleware: ExpectContinueMiddleware())
        let serviceRoutes = ServiceController(switchboard: switchboard, service: service, history: history, writer: writer)
        router.get("healthz", use: serviceRoutes.health)
        router.get("readyz", use: serviceRoutes.ready)
        let v1 = router.group("v1")
        v1.get("info", use: serviceRoutes.info)
        v1.get("openapi.json", use: OpenAPIController().document)
        ListenersController(switchboard: switchboard).addRoutes(to: v1.group("listeners"))
        SessionsController(switchboard: switchboard).addRoutes(to: v1.group("sessions"))
        HistoryController(history: history).addRoutes(to: v1.group("history"))
        if let events { EventsController(hub: events).addRoutes(to: v1.group("events")) }
        if let metrics { router.get("metrics", use: MetricsController(export: metrics).scrape) }
        routeTable.set(router.routes.map { ($0.method, $0.path) })
        return router
    }
}

extension ControlAPI {
    /// The HTTP/1 settings of the API's server, bound or inherited alike.
    public static func http1Configuration(limits: APILimits) -> HTTP1Channel.Configuration {
        HTTP1Channel.Configuration(additionalChannelHandlers: [
            HTTP1RequestRules.Installer(), ClientDisconnect.Handler(), MalformedRequestHandler(), RequestDeadlineHandler(timeout: limits.requestTimeout),
        ])
    }
}

/// The routes the router ended up with, known only after they are all added.
final class RouteTable: Sendable {
    private let routes = Mutex<[(HTTPRequest.Method, RouterPath)]>([])
    func set(_ routes: [(HTTPRequest.Method, RouterPath)]) { self.routes.withLock { $0 = routes } }

    /// The methods registered for a path, for a 405's Allow header.
    func methods(for path: String) -> [String] {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        return routes.withLock { routes in
            routes.filter { route in
                route.1.components.count == components.count && zip(route.1.components, components).allSatisfy { $0 ~= $1 }
            }.map(\.0.rawValue).sorted()
        }
    }
}

/// Makes every failure, the router's own 404 included, leave in the one JSON error shape, and
/// answers 405 for a path that exists under another method.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let routes: RouteTable
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response()
        } catch let error as SwitchboardError {
            // The one place the core's refusals become API errors; controllers just `try`.
            return APIError(error).response()
        } catch let error as HTTPError {
            return translate(error, request: request, context: context).response()
        } catch is CancellationError where Task.isCancelled {
            // The client went away (ClientDisconnect): nobody is likely to read this.
            logger.debug("request cancelled: the client closed the connection", metadata: ["path": "\(request.uri.path)"])
            return APIError(.serviceUnavailable, "cancelled", "the request was cancelled: the client closed its connection").response()
        } catch {
            logger.error("unexpected error answering \(request.method) \(request.uri.path): \(error)")
            return APIError(.internalServerError, "internal", "the service failed to answer this request; see its log").response()
        }
    }

    private func translate(_ error: HTTPError, request: Request, context: Context) -> APIError {
        switch error.status {
        case .notFound:
            let methods = routes.methods(for: request.uri.path)
            if !methods.isEmpty {
                var refusal = APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed on \(request.uri.path); allowed: \(methods.joined(separator: ", "))")
                refusal.headers[.allow] = methods.joined(separator: ", ")
                return refusal
            }
            return APIError.notFound("no endpoint at \(request.uri.path)")
        case .contentTooLarge:
            return RequestReading.tooLarge(context.limits)
        default:
            return APIError(error.status, "http_error", error.body ?? error.status.reasonPhrase)
        }
    }
}
