import Hummingbird

/// Toxiproxy refuses any request whose `User-Agent` starts with `Mozilla/`: a web page the
/// operator visits could otherwise drive the API (it needs no token) from the browser. Kept,
/// in the error shape.
struct BrowserGuardMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let agent = request.headers[.userAgent], agent.hasPrefix("Mozilla/") { throw ToxiproxyError.browser }
        return try await next(request, context)
    }
}
