import Logging
import Metrics
import ScribePostgres
import ServiceLifecycle

/// Reads the queue's depth every few seconds (``JobQueue/depths(timeout:)``)
/// into gauges, through swift-metrics:
///
/// - `scribe_jobs{queue, state}`: jobs `available` and `running` in each queue.
/// - `scribe_jobs_oldest_available_age_seconds{queue}`: how long the oldest
///   job whose `run_at` has passed has waited to be claimed (0 when none waits).
///
/// A queue that empties reads 0 rather than disappearing, and the queues
/// named at start read 0 before any job comes. The figures are the whole
/// queue's, whichever process reads them: each process that runs one reports
/// the same numbers (take `max by (queue)` across processes).
///
/// Each read has its own deadline. While the database is away the gauges
/// keep their last values (`scribe_db_reachable` says why) and the failure is
/// logged once per outage; it reads again when the database is back, and
/// stops on graceful shutdown.
public struct QueueGauges: Service {
    let queue: JobQueue
    let queues: [String]
    let interval: Duration
    let timeout: Duration
    let factory: any MetricsFactory
    let logger: Logger

    /// - Parameters:
    ///   - queue: The job queue to read.
    ///   - queues: Queues to report (as 0) before they hold a job.
    ///   - interval: How often to read.
    ///   - timeout: The most one read may take.
    ///   - factory: Where the gauges go: the process's bootstrapped backend unless a test passes its own.
    ///   - logger: Where a failed read is reported.
    public init(
        queue: JobQueue,
        queues: [String] = [],
        interval: Duration = .seconds(5),
        timeout: Duration = .seconds(2),
        factory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger
    ) {
        self.queue = queue
        self.queues = queues
        self.interval = interval
        self.timeout = timeout
        self.factory = factory
        self.logger = logger
    }

    public func run() async {
        var gauges = Gauges(factory: factory)
        for name in queues { gauges.add(queue: name) }
        var failing = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                gauges.update(with: try await queue.depths(timeout: timeout))
                if failing { logger.notice("queue gauges read the database again") }
                failing = false
            } catch {
                if !failing { logger.warning("could not read the queue's depth; retrying", metadata: ["error": "\(error)"]) }
                failing = true
            }
            // Until the next read, or until shutdown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// The gauges of every queue seen so far, so that one that empties reads 0.
    private struct Gauges {
        let factory: any MetricsFactory
        var jobs: [QueueState: Gauge] = [:]
        var oldestWait: [String: Gauge] = [:]

        struct QueueState: Hashable {
            var queue: String
            var state: JobState
        }

        init(factory: any MetricsFactory) {
            self.factory = factory
        }

        /// Makes `queue`'s gauges (reading 0) unless they exist.
        mutating func add(queue: String) {
            guard oldestWait[queue] == nil else { return }
            for state in [JobState.available, .running] {
                jobs[QueueState(queue: queue, state: state)] = Gauge(
                    label: "scribe_jobs", dimensions: [("queue", queue), ("state", state.rawValue)], factory: factory
                )
            }
            oldestWait[queue] = Gauge(label: "scribe_jobs_oldest_available_age_seconds", dimensions: [("queue", queue)], factory: factory)
        }

        /// Sets every gauge from `depths`, and those of queues and states not in it to 0.
        mutating func update(with depths: [QueueDepth]) {
            var counts: [QueueState: Int] = [:]
            var waits: [String: Duration] = [:]
            for depth in depths {
                add(queue: depth.queue)
                counts[QueueState(queue: depth.queue, state: depth.state)] = depth.count
                if depth.state == .available { waits[depth.queue] = depth.oldestWait }
            }
            for (key, gauge) in jobs { gauge.record(counts[key] ?? 0) }
            for (queue, gauge) in oldestWait { gauge.record((waits[queue] ?? .zero) / .seconds(1)) }
        }
    }
}
