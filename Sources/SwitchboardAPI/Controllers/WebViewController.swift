import HTTPTypes
import Hummingbird

/// `GET /ui` and `GET /ui/{file}`: the web view, compiled into the binary from `ui/`
/// (Plugins/EmbedFiles). It needs no token to load (a browser sends no header when it
/// navigates); the page asks for the token and sends it with its API calls.
struct WebViewController {
    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get(use: page)
        group.get(":file", use: file)
    }

    /// On every file: nothing but this origin's own files may run, style or load, nothing may
    /// frame the page, and a browser takes each file as the type it is sent as.
    static let securityHeaders: HTTPFields = [
        HTTPField.Name.contentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        HTTPField.Name.xContentTypeOptions: "nosniff",
        HTTPField.Name.referrerPolicy: "no-referrer",
        HTTPField.Name.crossOriginOpenerPolicy: "same-origin",
    ]

    @Sendable func page(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        return try serve("index.html", request)
    }

    @Sendable func file(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        return try serve(try context.parameters.require("file"), request)
    }

    private func serve(_ name: String, _ request: Request) throws -> Response {
        guard let asset = WebAsset.all[name] else { throw APIError.notFound("the web view has no file '\(name)'") }
        var headers = Self.securityHeaders
        headers[.eTag] = asset.etag
        // Kept, but asked about again each time: a new build serves its own files at once.
        headers[.cacheControl] = "no-cache"
        if let tags = request.headers[.ifNoneMatch], asset.matches(ifNoneMatch: tags) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }
}

extension HTTPField.Name {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let crossOriginOpenerPolicy = HTTPField.Name("Cross-Origin-Opener-Policy")!
}
