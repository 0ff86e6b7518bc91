import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// The queue's SQL: a generic Postgres job queue in the manner of River and
/// Oban. A job has a kind, a queue, JSON args, a priority, a fairness key,
/// attempts, `run_at` and a lease; nothing here knows what a job carries.
///
/// Every outcome is one state change guarded by the caller's lease, so a
/// worker that lost its lease writes nothing. A handler that writes results
/// completes its job inside its own transaction with ``complete(_:on:)``.
/// Changes the queue makes on its own (a failed attempt, a hand-back, an
/// expired lease) run a ``TransitionHook`` in the same transaction, so the
/// owner of the job's subject can keep it in step.
public struct JobQueue: Sendable {
    /// The channel a `NOTIFY` nudges idle workers on; its payload is the
    /// queue that has new work (empty: look at every queue).
    public static let channel = "scribe_jobs"

    /// Called inside the transaction that changed the jobs.
    public typealias TransitionHook = @Sendable ([JobTransition], PostgresConnection) async throws -> Void

    public let database: Database
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    // MARK: Enqueue

    /// Inserts `job` on the caller's connection (inside the caller's
    /// transaction, so the job exists exactly when what it works on does).
    /// A job with a fairness key is ranked by its place in its key's line.
    /// Idle workers are nudged once per queue and transaction: by the job
    /// enqueued with `nudging` (in the same round trip), or by ``notify(_:on:)``
    /// once the transaction's jobs are in.
    ///
    /// - Parameter nudging: Also nudges idle workers of the job's queue
    ///   (delivered when the transaction commits), whether or not it was inserted.
    /// - Returns: false when the job has a ``NewJob/uniqueKey`` that an
    ///   unfinished job holds already (nothing was inserted), else true.
    @discardableResult
    public func enqueue(_ job: NewJob, nudging: Bool = false, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            WITH job AS (
                INSERT INTO jobs (id, kind, queue, args, metadata, priority, max_attempts, fairness_key, unique_key, fair_rank)
                SELECT \(job.id), \(job.kind), \(job.queue), \(job.args)::jsonb, \(job.metadataJSON)::jsonb, \(job.priority), \(job.maxAttempts), \(job.fairnessKey),
                       \(job.uniqueKey),
                       CASE WHEN \(job.fairnessKey)::text IS NULL THEN 0 ELSE (
                           SELECT count(*) + 1 FROM jobs
                           WHERE queue = \(job.queue) AND fairness_key = \(job.fairnessKey) AND state IN ('available', 'running')
                       ) END
                ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'running', 'pending') DO NOTHING
                RETURNING 1
            ),
            nudge AS (SELECT pg_notify(\(Self.channel), \(job.queue)) WHERE \(nudging))
            SELECT (SELECT count(*) FROM job), (SELECT count(*) FROM nudge)
            """,
            logger: logger
        )
        var inserted = false
        for try await (jobs, _) in rows.decode((Int, Int).self) { inserted = jobs > 0 }
        return inserted
    }

    /// Nudges idle workers of `queues` (delivered when the transaction commits).
    public func notify(_ queues: Set<String>, on connection: PostgresConnection) async throws {
        for queue in queues.sorted() {
            try await connection.query("SELECT pg_notify(\(Self.channel), \(queue))", logger: logger)
        }
    }

    // MARK: Claim and lease

    /// Claims up to `limit` runnable jobs of `queue` for `workerID` in one
    /// statement: skips rows other workers hold, counts the attempt, sets the
    /// lease. Jobs are taken by priority, then by their rank in their key's
    /// line (fair turns), then oldest first.
    public func claim(queue: String, workerID: String, limit: Int, lease: Duration) async throws -> [ClaimedJob] {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                UPDATE jobs SET state = 'running', attempt = attempt + 1, locked_by = \(workerID),
                       locked_until = now() + make_interval(secs => \(lease / .seconds(1))), heartbeat_at = now(),
                       started_at = coalesce(started_at, now())
                WHERE id IN (
                    SELECT id FROM jobs
                    WHERE state = 'available' AND queue = \(queue) AND run_at <= now()
                    ORDER BY priority, fair_rank, run_at, id
                    FOR UPDATE SKIP LOCKED
                    LIMIT \(limit)
                )
                RETURNING \(unescaped: ClaimedJob.columns)
                """,
                logger: logger
            )
            var jobs: [ClaimedJob] = []
            for try await (id, kind, attempt, maxAttempts, args, metadata) in rows.decode(ClaimedJob.Row.self) {
                jobs.append(
                    ClaimedJob(
                        lease: JobLease(jobID: id, workerID: workerID, attempt: attempt),
                        kind: kind,
                        queue: queue,
                        args: args,
                        maxAttempts: maxAttempts,
                        metadata: (try? JSONDecoder().decode([String: String].self, from: Data(metadata.utf8))) ?? [:]
                    )
                )
            }
            return jobs
        }
    }

    /// Extends the leases of the given jobs, in one statement: the heartbeat.
    /// Only jobs this worker still holds are touched.
    @discardableResult
    public func extendLeases(_ leases: [JobLease], by lease: Duration) async throws -> Int {
        guard let workerID = leases.first?.workerID else { return 0 }
        return try await database.withConnection { connection in
            try await connection.query(
                """
                UPDATE jobs SET locked_until = now() + make_interval(secs => \(lease / .seconds(1))), heartbeat_at = now()
                WHERE id = ANY(\(leases.map(\.jobID))) AND locked_by = \(workerID) AND state = 'running'
                RETURNING id
                """,
                logger: logger
            ).collect().count
        }
    }

    // MARK: Outcomes

    /// Marks the job `succeeded` on the caller's connection, inside the
    /// transaction that writes its results. Throws ``QueueError`` `.leaseLost`
    /// when the lease no longer holds: the caller's transaction must then roll
    /// back, so a worker that lost its lease writes nothing.
    public func complete(_ lease: JobLease, on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            """
            UPDATE jobs SET state = 'succeeded', finished_at = now(), locked_by = NULL, locked_until = NULL
            WHERE id = \(lease.jobID) AND locked_by = \(lease.workerID) AND attempt = \(lease.attempt) AND state = 'running'
            RETURNING id
            """,
            logger: logger
        )
        guard try await rows.collect().count == 1 else { throw Self.leaseLost(lease) }
    }

    /// Marks many jobs with nothing to write `succeeded` in one statement (the
    /// worker's batched acknowledgements); leases that no longer hold are skipped.
    public func acknowledge(_ leases: [JobLease]) async throws -> Int {
        guard !leases.isEmpty else { return 0 }
        return try await database.withConnection { connection in
            try await connection.query(
                """
                UPDATE jobs j SET state = 'succeeded', finished_at = now(), locked_by = NULL, locked_until = NULL
                FROM unnest(\(leases.map(\.jobID)), \(leases.map(\.workerID)), \(leases.map(\.attempt))) AS l(id, worker, attempt)
                WHERE j.id = l.id AND j.locked_by = l.worker AND j.attempt = l.attempt AND j.state = 'running'
                RETURNING j.id
                """,
                logger: logger
            ).collect().count
        }
    }

    /// Records a failed attempt: the job runs again after `delay`, or, when
    /// the error is permanent or its attempts are spent, becomes `failed`.
    /// Runs `hook` in the same transaction. Returns the job's new state;
    /// throws `.leaseLost` when the lease no longer holds.
    @discardableResult
    public func recordFailure(_ lease: JobLease, error: JobError, delay: Duration, then hook: @escaping TransitionHook) async throws -> JobState {
        try await database.transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE jobs SET
                    state = CASE WHEN \(error.isPermanent) OR attempt >= max_attempts THEN 'failed' ELSE 'available' END,
                    finished_at = CASE WHEN \(error.isPermanent) OR attempt >= max_attempts THEN now() END,
                    run_at = now() + make_interval(secs => \(delay / .seconds(1))),
                    locked_by = NULL, locked_until = NULL, last_error = \(error.reason),
                    errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(), 'error', \(error.reason)::text))
                WHERE id = \(lease.jobID) AND locked_by = \(lease.workerID) AND attempt = \(lease.attempt) AND state = 'running'
                RETURNING \(unescaped: Self.transitionColumns)
                """,
                logger: logger
            )
            let changed = try await Self.transitions(rows, cause: .failed(error))
            guard let state = changed.first?.state else { throw Self.leaseLost(lease) }
            try await hook(changed, connection)
            return state
        }
    }

    /// Hands every job `workerID` still runs back to the queue without
    /// spending an attempt: what a worker does when asked to stop.
    @discardableResult
    public func handBack(workerID: String, then hook: @escaping TransitionHook) async throws -> Int {
        try await handBack(
            """
            UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), run_at = now(),
                   locked_by = NULL, locked_until = NULL
            WHERE locked_by = \(workerID) AND state = 'running'
            RETURNING \(unescaped: Self.transitionColumns)
            """,
            then: hook
        )
    }

    /// Hands one job back to the queue without spending an attempt, if
    /// `lease` still holds it (even past its expiry, as long as no rescuer
    /// took it): for an attempt that failed only because the database went
    /// away. Returns false when the lease was lost.
    @discardableResult
    public func handBack(_ lease: JobLease, then hook: @escaping TransitionHook) async throws -> Bool {
        try await handBack(
            """
            UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), run_at = now(),
                   locked_by = NULL, locked_until = NULL
            WHERE id = \(lease.jobID) AND locked_by = \(lease.workerID) AND attempt = \(lease.attempt) AND state = 'running'
            RETURNING \(unescaped: Self.transitionColumns)
            """,
            then: hook
        ) == 1
    }

    private func handBack(_ statement: PostgresQuery, then hook: @escaping TransitionHook) async throws -> Int {
        try await database.transaction { connection in
            let changed = try await Self.transitions(connection.query(statement, logger: logger), cause: .handedBack)
            guard !changed.isEmpty else { return 0 }
            try await hook(changed, connection)
            try await notify([""], on: connection)
            return changed.count
        }
    }

    /// Returns jobs whose lease expired (their worker died or hung) to the
    /// queue, or fails them when their attempts are spent, so a job that kills
    /// workers cannot loop forever. Returns (requeued, failed).
    public func rescueExpiredLeases(limit: Int = 1000, then hook: @escaping TransitionHook) async throws -> (requeued: Int, failed: Int) {
        let lost = "The worker running this job stopped before it finished."
        return try await database.transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE jobs SET
                    state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'available' END,
                    finished_at = CASE WHEN attempt >= max_attempts THEN now() END,
                    run_at = now(), locked_by = NULL, locked_until = NULL, last_error = \(lost),
                    errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(), 'error', \(lost)::text))
                WHERE id IN (
                    SELECT id FROM jobs WHERE state = 'running' AND locked_until < now()
                    ORDER BY locked_until FOR UPDATE SKIP LOCKED LIMIT \(limit)
                )
                RETURNING \(unescaped: Self.transitionColumns)
                """,
                logger: logger
            )
            let changed = try await Self.transitions(rows, cause: .leaseExpired)
            guard !changed.isEmpty else { return (0, 0) }
            try await hook(changed, connection)
            let requeued = changed.filter { $0.state == .available }.count
            if requeued > 0 { try await notify([""], on: connection) }
            return (requeued, changed.count - requeued)
        }
    }

    /// Deletes up to 1000 finished jobs older than `retention`, and the
    /// batches whose completion job they were; returns how many jobs.
    public func prune(olderThan retention: Duration) async throws -> Int {
        try await database.withConnection { connection in
            try await connection.query(
                """
                WITH pruned AS (
                    DELETE FROM jobs WHERE id IN (
                        SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled')
                          AND finished_at < now() - make_interval(secs => \(retention / .seconds(1)))
                        LIMIT 1000
                    )
                    RETURNING id
                ), batches AS (
                    DELETE FROM job_batches WHERE completion_job_id IN (SELECT id FROM pruned)
                )
                SELECT id FROM pruned
                """,
                logger: logger
            ).collect().count
        }
    }

    // MARK: Reads

    /// The stored jobs among `ids` (pruned ones are missing), in no particular order.
    public func jobs(ids: [UUID]) async throws -> [JobRecord] {
        guard !ids.isEmpty else { return [] }
        return try await database.withConnection { connection in
            let rows = try await connection.query(
                "SELECT \(unescaped: JobRecord.columns) FROM jobs WHERE id = ANY(\(ids))",
                logger: logger
            )
            var records: [JobRecord] = []
            for try await row in rows.decode(JobRecord.Row.self) { records.append(JobRecord(row: row)) }
            return records
        }
    }

    /// How many jobs each queue holds `available` and `running`, and how long
    /// its oldest runnable job (`available`, `run_at` passed) has waited: what
    /// ``QueueGauges`` reports. Each half reads only the rows of its partial
    /// index (`jobs_claimable`, `jobs_leased`), never the finished jobs.
    public func depths(timeout: Duration? = nil) async throws -> [QueueDepth] {
        try await database.withConnection(timeout: timeout) { connection in
            let rows = try await connection.query(
                """
                SELECT queue, 'available'::text, count(*)::int8,
                       coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)::float8
                FROM jobs WHERE state = 'available' GROUP BY queue
                UNION ALL
                SELECT queue, 'running'::text, count(*)::int8, 0::float8
                FROM jobs WHERE state = 'running' GROUP BY queue
                """,
                logger: logger
            )
            var depths: [QueueDepth] = []
            for try await row in rows.decode(QueueDepth.Row.self) { depths.append(QueueDepth(row: row)) }
            return depths
        }
    }

    // MARK: Rows

    static let transitionColumns = "id, kind, queue, args::text, state, attempt, max_attempts"
    typealias TransitionRow = (UUID, String, String, String, JobState, Int, Int)

    static func transitions(_ rows: PostgresRowSequence, cause: JobTransition.Cause) async throws -> [JobTransition] {
        var transitions: [JobTransition] = []
        for try await (id, kind, queue, args, state, attempt, maxAttempts) in rows.decode(TransitionRow.self) {
            transitions.append(
                JobTransition(
                    jobID: id, kind: kind, queue: queue, args: args, state: state, attempt: attempt, maxAttempts: maxAttempts, cause: cause
                )
            )
        }
        return transitions
    }

    static func leaseLost(_ lease: JobLease) -> QueueError {
        QueueError(.leaseLost, "The lease on job \(lease.jobID) (attempt \(lease.attempt)) is no longer held by \(lease.workerID).")
    }
}

extension JobRecord {
    static let columns = """
        id, kind, queue, state, attempt, max_attempts, last_error, errors::text, run_at, created_at, started_at, finished_at
        """
    typealias Row = (UUID, String, String, JobState, Int, Int, String?, String, Date, Date, Date?, Date?)

    init(row: Row) {
        let errors = (try? JSONDecoder().decode([AttemptError].self, from: Data(row.7.utf8))) ?? []
        self.init(
            id: row.0, kind: row.1, queue: row.2, state: row.3, attempt: row.4, maxAttempts: row.5, lastError: row.6,
            errors: errors, runAt: row.8, createdAt: row.9, startedAt: row.10, finishedAt: row.11
        )
    }
}

extension ClaimedJob {
    /// The columns a claim returns, in ``Row``'s order.
    static let columns = "id, kind, attempt, max_attempts, args::text, metadata::text"
    /// One row of ``columns``.
    typealias Row = (UUID, String, Int, Int, String, String)
}
