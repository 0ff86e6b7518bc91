import Metrics
import Prometheus

/// The process's metrics: swift-metrics bootstrapped with Prometheus' backend,
/// and the registry `GET /metrics` renders. The libraries record through
/// swift-metrics only; this is the one place that knows the backend.
enum PrometheusMetrics {
    /// Bootstraps swift-metrics with a Prometheus registry and returns the
    /// registry. swift-metrics allows this once per process.
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(makeFactory(registry: registry))
        return registry
    }

    /// A factory over `registry` with Scribe's names for Hummingbird's HTTP
    /// metrics and buckets fitting each duration.
    static func makeFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (metricNames[name] ?? name.replacing(".", with: "_"), labels.map { (labelNames[$0.0] ?? $0.0.replacing(".", with: "_"), $0.1) })
        }
        factory.durationHistogramBuckets = [
            // A connection from the pool: usually well under a millisecond.
            "scribe_db_pool_wait_seconds": [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5].map(seconds),
            // A page through an engine: about 1–9 s, up to OCR_PAGE_TIMEOUT_SECONDS (60 s).
            "scribe_ocr_page_duration_seconds": [0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60].map(seconds),
            // An answer, retries included: up to LLM_TOTAL_TIMEOUT_MS (120 s).
            "scribe_llm_call_duration_seconds": [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120].map(seconds),
            // A job's handler: from a no-op's microseconds to a long PDF's minutes.
            "scribe_job_duration_seconds": [0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900].map(seconds),
        ]
        return factory
    }

    /// Hummingbird's `MetricsMiddleware` names, as Prometheus' conventions have them.
    static let metricNames = [
        "hb.requests": "http_requests_total",
        "http.server.request.duration": "http_request_duration_seconds",
        "hb.request.errors": "http_request_errors_total",
        "http.server.active_requests": "http_requests_in_flight",
    ]

    /// Hummingbird's label names, short.
    static let labelNames = [
        "http.route": "route",
        "http.request.method": "method",
        "http.response.status_code": "status",
        "error.type": "status",
    ]

    private static func seconds(_ value: Double) -> Duration {
        .nanoseconds(Int64(value * 1e9))
    }
}
