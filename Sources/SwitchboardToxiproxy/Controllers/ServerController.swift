import Hummingbird
import NIOCore

/// `/version`, `/reset` and `/populate`: what concerns every proxy at once.
struct ServerController {
    let book: ProxyBook
    let version: String

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("version", use: showVersion)
        router.post("reset", use: reset)
        router.post("populate", use: populate)
    }

    /// Toxiproxy's exact bytes: `{"version": "..."}`, a space after the colon and a newline.
    @Sendable func showVersion(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = "{\"version\": " + String(decoding: ToxiproxyJSON.string(version).bytes, as: UTF8.self) + "}\n"
        return Response(status: .ok, headers: [.contentType: "application/json;charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    @Sendable func reset(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await book.reset()
        return Response(status: .noContent)
    }

    /// 201 `{"proxies": [...]}`; a failure part way is `{"error", "status", "proxies": [what was
    /// made]}` with that status, as Toxiproxy answers it.
    @Sendable func populate(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let entries = try await BodyReading.decode([ProxyInput].self, from: request)
        let populated = try await book.populate(entries)
        let proxies: (String, ToxiproxyJSON) = ("proxies", .array(populated.proxies.map(\.json)))
        guard let error = populated.error else { return ToxiproxyJSON.response(.object([proxies]), status: .created) }
        return ToxiproxyJSON.response(.object([("error", .string(error.message)), ("status", .number(Double(error.status.code))), proxies]), status: error.status)
    }
}
