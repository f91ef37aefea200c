import Hummingbird
import Logging

/// Every failure leaves in Toxiproxy's error shape, `{"error": "...", "status": N}`: the
/// API's refusals, the router's own 404, and a 405 for a path known under other methods.
struct ToxiproxyErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    /// Set once every route is added.
    let routes: ToxiproxyRoutes
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ToxiproxyError {
            return error.response()
        } catch let error as HTTPError where error.status == .notFound {
            let methods = routes.methods(for: request.uri.path)
            guard methods.isEmpty else {
                var refusal = ToxiproxyError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path); allowed: \(methods.joined(separator: ", "))")
                refusal.headers[.allow] = methods.joined(separator: ", ")
                return refusal.response()
            }
            return ToxiproxyError(.notFound, "no endpoint at \(request.uri.path)").response()
        } catch let error as HTTPError {
            return ToxiproxyError(error.status, error.body ?? error.status.reasonPhrase).response()
        } catch {
            logger.error("unexpected error answering a Toxiproxy request \(request.method) \(request.uri.path): \(error)")
            return ToxiproxyError(.internalServerError, "the service failed to answer this request; see its log").response()
        }
    }
}
