import Hummingbird

/// `/proxies` and `/proxies/{proxy}`.
struct ProxiesController {
    let book: ProxyBook

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("proxies", use: index)
        router.post("proxies", use: create)
        router.get("proxies/:proxy", use: show)
        // POST is Toxiproxy's older spelling of PATCH; its clients still send it.
        router.post("proxies/:proxy", use: update)
        router.patch("proxies/:proxy", use: update)
        router.delete("proxies/:proxy", use: delete)
    }

    @Sendable func index(_ request: Request, context: BasicRequestContext) async throws -> Response {
        ToxiproxyJSON.response(Proxy.index(book.all()))
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let input = try await BodyReading.decode(ProxyInput.self, from: request)
        return ToxiproxyJSON.response(try await book.create(input).json, status: .created)
    }

    @Sendable func show(_ request: Request, context: BasicRequestContext) async throws -> Response {
        ToxiproxyJSON.response(try book.proxy(try context.parameters.require("proxy")).json)
    }

    @Sendable func update(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let name = try context.parameters.require("proxy")
        // An unknown proxy is 404 whatever the body holds, as in Toxiproxy.
        _ = try book.proxy(name)
        let input = try await BodyReading.decode(ProxyInput.self, from: request)
        return ToxiproxyJSON.response(try await book.update(name, input).json)
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await book.delete(try context.parameters.require("proxy"))
        return Response(status: .noContent)
    }
}
