import Hummingbird
import Logging
import SwitchboardCore

/// Makes every failure, the router's own 404 included, leave in the one JSON error shape, and
/// answers 405 for a path that exists under another method.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let routes: RouteTable
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response(style: context.jsonStyle)
        } catch let error as SwitchboardError {
            // The one place the core's refusals become API errors; controllers just `try`.
            return APIError(error).response(style: context.jsonStyle)
        } catch let error as HTTPError {
            return translate(error, request: request, context: context).response(style: context.jsonStyle)
        } catch is CancellationError where Task.isCancelled {
            // The client went away (ClientDisconnect): nobody is likely to read this.
            logger.debug("request cancelled: the client closed the connection", metadata: ["path": "\(request.uri.path)"])
            return APIError(.serviceUnavailable, "cancelled", "the request was cancelled: the client closed its connection").response(style: context.jsonStyle)
        } catch {
            logger.error("unexpected error answering \(request.method) \(request.uri.path): \(error)")
            return APIError(.internalServerError, "internal", "the service failed to answer this request; see its log").response(style: context.jsonStyle)
        }
    }

    private func translate(_ error: HTTPError, request: Request, context: Context) -> APIError {
        switch error.status {
        case .notFound:
            let methods = routes.methods(for: request.uri.path)
            if !methods.isEmpty {
                var refusal = APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed on \(request.uri.path); allowed: \(methods.joined(separator: ", "))")
                refusal.headers[.allow] = methods.joined(separator: ", ")
                return refusal
            }
            return APIError.notFound("no endpoint at \(request.uri.path)")
        case .contentTooLarge:
            return RequestReading.tooLarge(context.limits)
        default:
            return APIError(error.status, "http_error", error.body ?? error.status.reasonPhrase)
        }
    }
}
