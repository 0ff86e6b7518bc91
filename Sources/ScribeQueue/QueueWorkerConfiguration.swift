/// How a worker process runs jobs.
public struct QueueWorkerConfiguration: Sendable {
    /// The queues this process claims from, each with the most jobs it runs
    /// from that queue at once. A queue's claim loop claims only when it has a
    /// free slot, so a queue of slow jobs never takes another queue's slots.
    public var queues: [String: Int]
    /// How long a claim holds before another worker may take the job; the
    /// heartbeat extends it every third of this while the job runs.
    public var leaseDuration: Duration
    /// How often to look for work when no NOTIFY arrives.
    public var pollInterval: Duration
    /// How often to return expired leases to the queue.
    public var rescueInterval: Duration
    /// After SIGTERM: how long running jobs may finish before they are handed back.
    public var shutdownGrace: Duration
    /// The longest one attempt may run; after it the heartbeat stops renewing
    /// the job's lease, so a stuck attempt is rescued by another worker.
    public var jobTimeout: Duration
    /// Backoff between attempts: full jitter over `base · 2^(attempt-1)`, capped.
    public var retryBase: Duration
    public var retryCap: Duration
    /// How long finished jobs are kept before they are deleted.
    public var jobRetention: Duration

    public init(
        queues: [String: Int],
        leaseDuration: Duration = .seconds(30),
        pollInterval: Duration = .seconds(2),
        rescueInterval: Duration = .seconds(5),
        shutdownGrace: Duration = .seconds(20),
        jobTimeout: Duration = .seconds(900),
        retryBase: Duration = .seconds(1),
        retryCap: Duration = .seconds(300),
        jobRetention: Duration = .seconds(7 * 24 * 3600)
    ) {
        self.queues = queues.mapValues { max(1, $0) }
        self.leaseDuration = leaseDuration
        self.pollInterval = pollInterval
        self.rescueInterval = rescueInterval
        self.shutdownGrace = shutdownGrace
        self.jobTimeout = jobTimeout
        self.retryBase = retryBase
        self.retryCap = retryCap
        self.jobRetention = jobRetention
    }

    /// The delay before attempt `attempt + 1`, never earlier than `retryAfter`.
    func retryDelay(afterAttempt attempt: Int, retryAfter: Duration?) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(retryCap, retryBase * (1 << exponent))
        let millis = max(0, Int64(ceiling / .milliseconds(1)))
        let jittered = Duration.milliseconds(Int64.random(in: 0...millis))
        return max(jittered, retryAfter ?? .zero)
    }
}
