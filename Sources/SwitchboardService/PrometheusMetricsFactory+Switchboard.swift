import Prometheus

extension PrometheusMetricsFactory {
    /// Prometheus behind swift-metrics, with buckets that fit what is measured: one fresh
    /// registry per call, so a test's service measures only itself.
    public static func switchboard() -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
        let fast: [Duration] = [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5)]
        factory.durationHistogramBuckets = [
            "switchboard_history_write_duration_seconds": fast,
            "switchboard_http_request_duration_seconds": fast + [.seconds(10), .seconds(30), .seconds(60)],
        ]
        factory.valueHistogramBuckets = ["switchboard_history_batch_records": [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 20_000, 100_000, 200_000]]
        return factory
    }
}
