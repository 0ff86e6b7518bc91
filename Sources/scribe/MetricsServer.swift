import Hummingbird
import Logging
import NIOCore
import ScribeAPI
import ServiceLifecycle

/// `GET /metrics` on a port of its own (`METRICS_PORT`), on the API's host:
/// a small Hummingbird application that serves nothing else. It is how a
/// `scribe worker`, which has no HTTP server, exposes its metrics.
enum MetricsServer {
    static func make(endpoint: MetricsEndpoint, host: String, port: Int, logger: Logger) -> some Service {
        let router = Router()
        endpoint.addRoutes(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "scribe-metrics"),
            onServerRunning: { channel in
                logger.notice("metrics served", metadata: ["address": "\(channel.localAddress?.description ?? "\(host):\(port)")/metrics"])
            },
            logger: logger
        )
    }
}
