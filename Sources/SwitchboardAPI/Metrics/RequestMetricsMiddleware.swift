import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// Counts API requests and their latency by route template, method and status.
///
/// The route is the matched template (`/v1/sessions/{id}`), never the raw path, so the label
/// set stays as small as the route table; anything that matched no route is `unmatched`. It
/// runs outside the error middleware, so it sees the status the client got. For streamed
/// answers (live events, history exports) the latency is the time to the response head.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    static let requests = "switchboard_http_requests_total"
    static let duration = "switchboard_http_request_duration_seconds"

    private final class Instruments: Sendable {
        let factory: any MetricsFactory
        private let cache = Mutex<[[String]: (Counter, Metrics.Timer)]>([:])
        init(factory: any MetricsFactory) { self.factory = factory }

        func pair(route: String, method: String, status: String) -> (Counter, Metrics.Timer) {
            let key = [route, method, status]
            if let pair = cache.withLock({ $0[key] }) { return pair }
            let pair = (
                Counter(label: RequestMetricsMiddleware.requests, dimensions: [("route", route), ("method", method), ("status", status)], factory: factory),
                Metrics.Timer(label: RequestMetricsMiddleware.duration, dimensions: [("route", route), ("method", method)], factory: factory)
            )
            return cache.withLock { cache in
                if let existing = cache[key] { return existing }
                cache[key] = pair
                return pair
            }
        }
    }

    private let instruments: Instruments
    private static let methods: Set<HTTPRequest.Method> = [.get, .post, .put, .delete, .patch, .head, .options]

    init(factory: any MetricsFactory) {
        instruments = Instruments(factory: factory)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let status: Int
        do {
            let response = try await next(request, context)
            status = response.status.code
            record(request, context, status: status, since: started)
            return response
        } catch let error as any HTTPResponseError {
            record(request, context, status: error.status.code, since: started)
            throw error
        } catch {
            record(request, context, status: 500, since: started)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since started: ContinuousClock.Instant) {
        // The router's own not-found answer names no route of ours.
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
        // Any token is a method to HTTP; only the ones the API serves become labels.
        let method = Self.methods.contains(request.method) ? request.method.rawValue : "other"
        let (counter, timer) = instruments.pair(route: route, method: method, status: String(status))
        counter.increment()
        timer.record(duration: ContinuousClock.now - started)
    }
}
