import Hummingbird
import NIOCore

/// `GET /v1/openapi.json`: the OpenAPI 3.1 document of this API, compiled into the binary from
/// `openapi/openapi.json` (Plugins/EmbedFiles).
struct OpenAPIController {
    static let document = ByteBuffer(string: EmbeddedOpenAPI.json)

    @Sendable func document(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: Self.document)
        )
    }
}
