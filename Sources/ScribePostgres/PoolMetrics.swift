import Metrics

/// What ``Database`` records about its connections, through swift-metrics
/// (the process chooses the backend; with none bootstrapped it costs nothing):
///
/// - `scribe_db_pool_connections_in_use`: connections leased right now.
/// - `scribe_db_pool_waiting`: uses waiting for a connection right now.
/// - `scribe_db_pool_wait_seconds`: how long each use waited for its connection.
/// - `scribe_db_pool_size`: the most connections the pool opens (`DATABASE_POOL_SIZE`).
/// - `scribe_db_reachable`: 1, or 0 while the database cannot be reached.
///
/// postgres-nio 1.33.2's `PostgresClient` takes no observability delegate
/// (its pool's is internal and only logs), so these are counted where
/// ``Database`` leases connections: every use goes through there.
struct PoolMetrics: Sendable {
    let inUse: Meter
    let waiting: Meter
    let waitTime: Timer
    let reachable: Gauge

    init(poolSize: Int, factory: any MetricsFactory) {
        inUse = Meter(label: "scribe_db_pool_connections_in_use", factory: factory)
        waiting = Meter(label: "scribe_db_pool_waiting", factory: factory)
        waitTime = Timer(label: "scribe_db_pool_wait_seconds", factory: factory)
        reachable = Gauge(label: "scribe_db_reachable", factory: factory)
        Gauge(label: "scribe_db_pool_size", factory: factory).record(poolSize)
        reachable.record(1)
    }

    /// A use starts waiting for a connection.
    func waitStarted() {
        waiting.increment()
    }

    /// A waiting use got its connection after `wait`.
    func leased(after wait: Duration) {
        waiting.decrement()
        inUse.increment()
        waitTime.record(duration: wait)
    }

    /// A waiting use gave up (its deadline, an outage, cancellation) without a connection.
    func waitAbandoned() {
        waiting.decrement()
    }

    /// A use gave its connection back.
    func released() {
        inUse.decrement()
    }
}
