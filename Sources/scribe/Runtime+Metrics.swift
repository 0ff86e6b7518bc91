import Logging
import Prometheus
import ScribeAPI
import ScribeQueue
import ScribePostgres
import ServiceLifecycle

extension Runtime {
    /// Bootstraps metrics when this process serves them: a process with the
    /// API (on the API's port, or on `METRICS_PORT`), and a worker given
    /// `METRICS_PORT`. A worker without it serves none, so records none.
    func makeMetrics(_ roles: Roles) throws -> PrometheusCollectorRegistry? {
        if roles.contains(.api), let port = configuration.metricsPort, port == configuration.port, port != 0 {
            throw StartupError("METRICS_PORT (\(port)) must differ from PORT: it moves /metrics to a port of its own.")
        }
        guard roles.contains(.api) || configuration.metricsPort != nil else { return nil }
        return PrometheusMetrics.bootstrap()
    }

    /// `GET /metrics` over `registry`, behind `METRICS_TOKEN` when it is set.
    func metricsEndpoint(_ registry: PrometheusCollectorRegistry) -> MetricsEndpoint {
        MetricsEndpoint(token: configuration.metricsToken) { registry.emitToBuffer() }
    }

    /// What runs for metrics beside the process's own services: the queue's
    /// gauges, and with `METRICS_PORT` the server on that port (the API's
    /// router serves `/metrics` otherwise).
    func makeMetricsServices(_ registry: PrometheusCollectorRegistry, database: Database) -> [any Service] {
        let logger = Logger(label: "scribe.metrics")
        var services: [any Service] = [
            QueueGauges(
                queue: JobQueue(database: database, logger: logger),
                queues: configuration.queueWorker.queues.keys.sorted(),
                timeout: configuration.databaseTimeout,
                logger: logger
            )
        ]
        if let port = configuration.metricsPort {
            services.append(MetricsServer.make(endpoint: metricsEndpoint(registry), host: configuration.host, port: port, logger: logger))
        }
        return services
    }
}
