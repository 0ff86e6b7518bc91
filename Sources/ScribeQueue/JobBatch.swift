import Foundation
import PostgresNIO
import ScribePostgres

/// Jobs to enqueue as one batch: when the last of `jobs` has finished
/// (succeeded, failed for good, or cancelled), `completion` becomes runnable,
/// released by the very transaction that finished that job
/// (`sql/012_job_batches.sql`). An empty batch's completion runs at once.
public struct NewBatch: Sendable {
    public var id: UUID
    public var jobs: [NewJob]
    /// Runs once after every job of the batch has finished; its handler reads
    /// the batch's counts with ``JobQueue/batch(id:)`` if it needs them.
    public var completion: NewJob

    public init(jobs: [NewJob], completion: NewJob, id: UUID = .v7()) {
        self.id = id
        self.jobs = jobs
        self.completion = completion
    }
}

/// A batch as stored: how many of its jobs have finished, and how.
public struct BatchRecord: Sendable, Hashable {
    public var id: UUID
    public var completionJobID: UUID
    public var total: Int
    /// Jobs not finished yet.
    public var remaining: Int
    public var succeeded: Int
    /// Failed for good or cancelled.
    public var failed: Int
    public var createdAt: Date
    /// When its last job finished.
    public var finishedAt: Date?

    static let columns = "id, completion_job_id, total, remaining, succeeded, failed, created_at, finished_at"
    typealias Row = (UUID, UUID, Int, Int, Int, Int, Date, Date?)

    init(row: Row) {
        self.init(
            id: row.0, completionJobID: row.1, total: row.2, remaining: row.3, succeeded: row.4, failed: row.5,
            createdAt: row.6, finishedAt: row.7
        )
    }

    init(id: UUID, completionJobID: UUID, total: Int, remaining: Int, succeeded: Int, failed: Int, createdAt: Date, finishedAt: Date?) {
        self.id = id
        self.completionJobID = completionJobID
        self.total = total
        self.remaining = remaining
        self.succeeded = succeeded
        self.failed = failed
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }
}

extension JobQueue {
    // MARK: Batches

    /// Inserts `batch` on the caller's connection (inside its transaction): the
    /// batch's row, its completion job (`pending`, or `available` at once when
    /// the batch is empty) and its jobs, in three statements whatever the
    /// batch's size. Jobs with a fairness key take the next places in their
    /// key's line, in the order given. Call ``notify(_:on:)`` for the jobs' queues.
    public func enqueue(_ batch: NewBatch, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO job_batches (id, completion_job_id, total, remaining)
            VALUES (\(batch.id), \(batch.completion.id), \(batch.jobs.count), \(batch.jobs.count))
            """,
            logger: logger
        )
        try await insert([batch.completion], state: batch.jobs.isEmpty ? .available : .pending, batchID: nil, on: connection)
        try await insert(batch.jobs, state: .available, batchID: batch.id, on: connection)
    }

    /// The batch `id`, or nil once it is pruned (with its completion job).
    public func batch(id: UUID) async throws -> BatchRecord? {
        try await database.withConnection { connection in
            let rows = try await connection.query("SELECT \(unescaped: BatchRecord.columns) FROM job_batches WHERE id = \(id)", logger: logger)
            for try await row in rows.decode(BatchRecord.Row.self) { return BatchRecord(row: row) }
            return nil
        }
    }

    /// Inserts `jobs` in `state` in one statement, ranked in their keys' lines as ``enqueue(_:on:)`` ranks one.
    func insert(_ jobs: [NewJob], state: JobState, batchID: UUID?, on connection: PostgresConnection) async throws {
        guard !jobs.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO jobs (id, kind, queue, args, metadata, priority, max_attempts, fairness_key, fair_rank, state, batch_id)
            SELECT n.id, n.kind, n.queue, n.args::jsonb, n.metadata::jsonb, n.priority, n.max_attempts, nullif(n.fairness_key, ''),
                   CASE WHEN n.fairness_key = '' THEN 0 ELSE (
                       SELECT count(*) FROM jobs j
                       WHERE j.queue = n.queue AND j.fairness_key = n.fairness_key AND j.state IN ('available', 'running')
                   ) + row_number() OVER (PARTITION BY n.queue, n.fairness_key ORDER BY n.position) END,
                   \(state), \(batchID)
            FROM unnest(\(jobs.map(\.id)), \(jobs.map(\.kind)), \(jobs.map(\.queue)), \(jobs.map(\.args)), \(jobs.map(\.metadataJSON)),
                        \(jobs.map(\.priority)), \(jobs.map(\.maxAttempts)), \(jobs.map { $0.fairnessKey ?? "" }))
                 WITH ORDINALITY AS n(id, kind, queue, args, metadata, priority, max_attempts, fairness_key, position)
            """,
            logger: logger
        )
    }
}
