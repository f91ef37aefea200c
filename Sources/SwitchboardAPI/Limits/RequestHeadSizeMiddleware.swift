import Hummingbird

/// Refuses a request whose target or header fields are longer than the limits, with the
/// API's JSON error.
struct RequestHeadSizeMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let limits = context.limits
        let target = request.head.path?.utf8.count ?? 0
        guard target <= limits.maxURLBytes else {
            throw APIError(.uriTooLong, "uri_too_long", "the request target is \(target) bytes; at most \(limits.maxURLBytes) are read")
        }
        var headerBytes = 0
        for field in request.headers { headerBytes += field.name.rawName.utf8.count + field.value.utf8.count + 4 }
        guard headerBytes <= limits.maxHeaderBytes else {
            throw APIError(.requestHeaderFieldsTooLarge, "headers_too_large", "the header fields take \(headerBytes) bytes; at most \(limits.maxHeaderBytes) are read")
        }
        return try await next(request, context)
    }
}
