import Hummingbird

/// `/proxies/{proxy}/toxics` and `/proxies/{proxy}/toxics/{toxic}`.
struct ToxicsController {
    let book: ProxyBook

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("proxies/:proxy/toxics", use: index)
        router.post("proxies/:proxy/toxics", use: create)
        router.get("proxies/:proxy/toxics/:toxic", use: show)
        router.post("proxies/:proxy/toxics/:toxic", use: update)
        router.patch("proxies/:proxy/toxics/:toxic", use: update)
        router.delete("proxies/:proxy/toxics/:toxic", use: delete)
    }

    @Sendable func index(_ request: Request, context: BasicRequestContext) async throws -> Response {
        ToxiproxyJSON.response(.array(try book.toxics(of: try context.parameters.require("proxy")).map(Toxic.json)))
    }

    /// 200, not 201: Toxiproxy's answer to a new toxic.
    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let proxy = try context.parameters.require("proxy")
        _ = try book.proxy(proxy)
        let input = try await BodyReading.decode(ToxicInput.self, from: request)
        return ToxiproxyJSON.response(Toxic.json(try await book.addToxic(to: proxy, input)))
    }

    @Sendable func show(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let (proxy, toxic) = (try context.parameters.require("proxy"), try context.parameters.require("toxic"))
        return ToxiproxyJSON.response(Toxic.json(try book.toxic(toxic, of: proxy)))
    }

    @Sendable func update(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let (proxy, toxic) = (try context.parameters.require("proxy"), try context.parameters.require("toxic"))
        _ = try book.toxic(toxic, of: proxy)
        let input = try await BodyReading.decode(ToxicInput.self, from: request)
        return ToxiproxyJSON.response(Toxic.json(try await book.changeToxic(toxic, of: proxy, input)))
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let (proxy, toxic) = (try context.parameters.require("proxy"), try context.parameters.require("toxic"))
        try await book.removeToxic(toxic, of: proxy)
        return Response(status: .noContent)
    }
}
