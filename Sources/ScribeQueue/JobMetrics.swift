import Metrics
import Synchronization

/// What a ``QueueWorker`` records about the jobs it runs, through swift-metrics
/// (the process chooses the backend; with none bootstrapped it costs nothing):
///
/// - `scribe_job_attempts_total{queue, kind}`: attempts started (each claim).
/// - `scribe_job_duration_seconds{queue, kind}`: how long each attempt's handler ran.
/// - `scribe_job_failures_total{queue, kind, cause, outcome}`: failed attempts;
///   `cause` is `error` (the handler threw) or `lease_expired` (its worker
///   died, hung or ran past its time limit, and a rescuer took the job back);
///   `outcome` is `retried` (it will run again) or `failed` (it will not).
///
/// Labels are the queue's and the kind's names only, a handful of values.
/// The metric objects of each label set are made once and kept, so a job
/// costs a dictionary look-up and a few atomic adds.
public final class JobMetrics: Sendable {
    private struct Key: Hashable {
        var queue: String
        var kind: String
    }

    private struct FailureKey: Hashable {
        var queue: String
        var kind: String
        var cause: String
        var outcome: String
    }

    /// One queue and kind's metrics.
    struct Series: Sendable {
        let attempts: Counter
        let duration: Timer
    }

    private let factory: any MetricsFactory
    private let series = Mutex<[Key: Series]>([:])
    private let failures = Mutex<[FailureKey: Counter]>([:])

    /// Metrics recorded through `factory`: the process's bootstrapped backend
    /// unless a test passes its own.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// The metrics of jobs of `kind` on `queue`, made the first time they are asked for.
    func series(queue: String, kind: String) -> Series {
        let key = Key(queue: queue, kind: kind)
        return series.withLock { known in
            if let series = known[key] { return series }
            let dimensions = [("queue", queue), ("kind", kind)]
            let made = Series(
                attempts: Counter(label: "scribe_job_attempts_total", dimensions: dimensions, factory: factory),
                duration: Timer(label: "scribe_job_duration_seconds", dimensions: dimensions, factory: factory)
            )
            known[key] = made
            return made
        }
    }

    /// Counts one failed attempt.
    func failed(queue: String, kind: String, leaseExpired: Bool, willRetry: Bool) {
        let key = FailureKey(queue: queue, kind: kind, cause: leaseExpired ? "lease_expired" : "error", outcome: willRetry ? "retried" : "failed")
        let counter = failures.withLock { counters in
            if let known = counters[key] { return known }
            let made = Counter(
                label: "scribe_job_failures_total",
                dimensions: [("queue", key.queue), ("kind", key.kind), ("cause", key.cause), ("outcome", key.outcome)],
                factory: factory
            )
            counters[key] = made
            return made
        }
        counter.increment()
    }
}
