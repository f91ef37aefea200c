import Hummingbird

/// Puts the service's limits on each request's context, where the body reader, the JSON
/// check and the error middleware find them.
struct LimitsMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let limits: APILimits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.limits = limits
        return try await next(request, context)
    }
}
