import Foundation
import Hummingbird
import NIOCore
import Prometheus

/// What `GET /metrics` renders: the factory the executable bootstrapped swift-metrics with (the
/// API's request metrics go through it too), and a hook that brings scrape-time values (bytes
/// of open sessions, gauges) up to date first.
public struct MetricsExport: Sendable {
    public let factory: PrometheusMetricsFactory
    public let beforeScrape: @Sendable () -> Void
    public var registry: PrometheusCollectorRegistry { factory.registry }

    public init(factory: PrometheusMetricsFactory, beforeScrape: @escaping @Sendable () -> Void = {}) {
        self.factory = factory
        self.beforeScrape = beforeScrape
    }
}

/// `GET /metrics` in the Prometheus text format.
struct MetricsController {
    let export: MetricsExport

    @Sendable func scrape(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [], answersJSON: false)
        export.beforeScrape()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 << 10)
        export.registry.emit(into: &bytes)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: MetricsHelp.adding(to: bytes)))
        )
    }
}
