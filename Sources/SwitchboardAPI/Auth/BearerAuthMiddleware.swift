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

    /// The health checks, and the web view's files by their exact paths: a browser sends no
    /// header when it navigates, so the page loads first and then asks for the token for its API
    /// calls. They are the same public files in every build and tell nothing about this service;
    /// any other path under `/ui` needs the token like every path.
    static func isOpen(_ path: String) -> Bool {
        if openPaths.contains(path) || path == "/ui" || path == "/ui/" { return true }
        guard path.hasPrefix("/ui/") else { return false }
        return WebAsset.all[String(path.dropFirst(4))] != nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.isOpen(request.uri.path) {
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
