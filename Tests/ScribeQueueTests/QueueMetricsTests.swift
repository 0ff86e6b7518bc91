import Foundation
import PostgresNIO
import ScribeQueue
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import ServiceLifecycle
import Testing

/// The queue's metrics against Postgres: the gauges read from the `jobs`
/// table, and what a worker counts as it runs jobs.
@Suite struct QueueMetricsTests {
    static func enqueue(_ count: Int, kind: String, on queueName: String, _ queue: JobQueue) async throws -> [UUID] {
        let jobs = try (0..<count).map { _ in try NewJob(kind: kind, queue: queueName, args: [String: String](), maxAttempts: 3) }
        try await queue.database.transaction { connection in
            for job in jobs { try await queue.enqueue(job, on: connection) }
        }
        return jobs.map(\.id)
    }

    static func execute(_ sql: PostgresQuery, _ database: Database) async throws {
        try await database.withConnection { connection in _ = try await connection.query(sql, logger: TestDatabase.logger) }
    }

    /// Runs `services` beside a database of their own until `body` returns, then shuts them down gracefully.
    static func withServices(
        _ makeServices: (JobQueue) -> [any Service],
        _ body: @Sendable (JobQueue) async throws -> Void
    ) async throws {
        let database = Database(url: try await TestDatabase.createMigrated(), options: TestDatabase.options, logger: TestDatabase.logger)
        let queue = JobQueue(database: database, logger: TestDatabase.logger)
        let group = ServiceGroup(configuration: .init(services: [database] + makeServices(queue), logger: TestDatabase.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(queue)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func gaugesShowEachQueuesJobsByStateAndHowLongTheOldestRunnableOneWaited() async throws {
        let metrics = TestMetrics()
        try await Self.withServices({ queue in
            [QueueGauges(queue: queue, queues: ["idle"], interval: .milliseconds(50), factory: metrics.factory, logger: TestDatabase.logger)]
        }) { queue in
            // Three runnable jobs, the oldest waiting for 90 s, and a retry due in an hour.
            let ids = try await Self.enqueue(4, kind: "noop", on: "busy", queue)
            try await Self.execute("UPDATE jobs SET run_at = now() - interval '90 seconds' WHERE id = \(ids[0])", queue.database)
            try await Self.execute("UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id = \(ids[3])", queue.database)
            // (A sample taken between the enqueue and the updates already shows 4: wait for one after them.)
            let queued = try await metrics.waitUntil {
                $0.value("scribe_jobs", ["queue": "busy", "state": "available"]) == 4
                    && ($0.value("scribe_jobs_oldest_available_age_seconds", ["queue": "busy"]) ?? 0) >= 60
            }
            let age = try #require(queued.value("scribe_jobs_oldest_available_age_seconds", ["queue": "busy"]))
            #expect(age >= 90 && age < 150, "oldest wait \(age) s")
            #expect(queued.value("scribe_jobs", ["queue": "busy", "state": "running"]) == 0)
            // A queue named at start reads 0 before it ever holds a job.
            #expect(queued.value("scribe_jobs", ["queue": "idle", "state": "available"]) == 0)
            #expect(queued.value("scribe_jobs_oldest_available_age_seconds", ["queue": "idle"]) == 0)

            // Claimed: three running, the scheduled one still available but not waiting.
            let claimed = try await queue.claim(queue: "busy", workerID: "metrics-test", limit: 10, lease: .seconds(30))
            #expect(claimed.count == 3)
            try await metrics.waitUntil {
                $0.value("scribe_jobs", ["queue": "busy", "state": "running"]) == 3
                    && $0.value("scribe_jobs", ["queue": "busy", "state": "available"]) == 1
                    && $0.value("scribe_jobs_oldest_available_age_seconds", ["queue": "busy"]) == 0
            }

            // Finished: the queue reads 0 rather than disappearing.
            #expect(try await queue.acknowledge(claimed.map(\.lease)) == 3)
            try await Self.execute("DELETE FROM jobs WHERE id = \(ids[3])", queue.database)
            try await metrics.waitUntil {
                $0.value("scribe_jobs", ["queue": "busy", "state": "running"]) == 0
                    && $0.value("scribe_jobs", ["queue": "busy", "state": "available"]) == 0
            }
        }
    }

    /// Fails every attempt, for good.
    struct AlwaysFails: JobHandler {
        let kind = "always-fails"
        func run(_ job: ClaimedJob) async throws -> JobCompletion {
            throw JobError.permanent("refused", userMessage: "refused")
        }
    }

    /// Fails its first attempt, then succeeds.
    struct FailsOnce: JobHandler {
        let kind = "fails-once"
        func run(_ job: ClaimedJob) async throws -> JobCompletion {
            if job.lease.attempt == 1 { throw JobError.retryable("not yet", userMessage: "not yet") }
            return .acknowledge
        }
    }

    @Test func aWorkerCountsAttemptsAndFailuresByQueueKindCauseAndOutcome() async throws {
        let metrics = TestMetrics()
        let configuration = QueueWorkerConfiguration(
            queues: ["measured": 4],
            leaseDuration: .seconds(5),
            pollInterval: .milliseconds(100),
            rescueInterval: .milliseconds(200),
            shutdownGrace: .seconds(5),
            retryBase: .milliseconds(10),
            retryCap: .milliseconds(20)
        )
        try await Self.withServices({ queue in
            [
                QueueWorker(
                    configuration: configuration,
                    queue: queue,
                    handlers: [NoopJobHandler(), FailsOnce(), AlwaysFails()],
                    logger: TestDatabase.logger,
                    metrics: JobMetrics(factory: metrics.factory)
                )
            ]
        }) { queue in
            // A job whose worker died, on a queue this worker does not serve:
            // its lease expires, and this worker's rescuer returns it.
            _ = try await Self.enqueue(1, kind: "noop", on: "elsewhere", queue)
            #expect(try await queue.claim(queue: "elsewhere", workerID: "dead", limit: 1, lease: .milliseconds(100)).count == 1)
            _ = try await Self.enqueue(5, kind: "noop", on: "measured", queue)
            _ = try await Self.enqueue(2, kind: "fails-once", on: "measured", queue)
            _ = try await Self.enqueue(1, kind: "always-fails", on: "measured", queue)
            let samples = try await metrics.waitUntil {
                $0.value("scribe_job_attempts_total", ["queue": "measured", "kind": "noop"]) == 5
                    && $0.value("scribe_job_attempts_total", ["queue": "measured", "kind": "fails-once"]) == 4
                    && $0.value("scribe_job_failures_total", ["kind": "always-fails"]) == 1
                    && $0.value("scribe_job_failures_total", ["kind": "fails-once"]) == 2
                    && $0.value("scribe_job_failures_total", ["kind": "noop"]) == 1
            }
            #expect(samples.value("scribe_job_attempts_total", ["queue": "measured", "kind": "always-fails"]) == 1)
            #expect(samples.value("scribe_job_failures_total", ["kind": "always-fails", "cause": "error", "outcome": "failed"]) == 1)
            #expect(samples.value("scribe_job_failures_total", ["kind": "fails-once", "cause": "error", "outcome": "retried"]) == 2)
            #expect(samples.value("scribe_job_failures_total", ["queue": "elsewhere", "kind": "noop", "cause": "lease_expired", "outcome": "retried"]) == 1)
            #expect(samples.value("scribe_job_failures_total", ["kind": "noop", "cause": "error"]) == nil)
            #expect(samples.value("scribe_job_duration_seconds_count", ["queue": "measured", "kind": "noop"]) == 5)
        }
    }
}
