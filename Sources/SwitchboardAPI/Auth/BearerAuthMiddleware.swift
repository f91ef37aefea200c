import HTTPTypes
import Hummingbird

/// Every request but the health checks needs `Authorization: Bearer TOKEN`. It runs before
/// the router looks for a route, so an unknown path without the token is a 401 too: what
/// exists cannot be probed.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let token: APIToken

    /// What a load balancer or systemd probes: no token needed, nothing to learn from them.
    static let openPaths: Set<String> = ["/healthz", "/readyz"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        guard let authorization = request.headers[.authorization] else {
            throw APIError.unauthorized("this API needs a bearer token: Authorization: Bearer TOKEN", challenge: "Bearer")
        }
        guard token.accepts(authorization: authorization) else {
            throw APIError.unauthorized("the bearer token is missing or not the right one", challenge: #"Bearer error="invalid_token""#)
        }
        return try await next(request, context)
    }
}

extension APIError {
    static func unauthorized(_ message: String, challenge: String) -> APIError {
        var error = APIError(.unauthorized, "unauthorized", message)
        error.headers[.wwwAuthenticate] = challenge
        return error
    }
}
