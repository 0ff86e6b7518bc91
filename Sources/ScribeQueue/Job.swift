import Foundation
import PostgresNIO
import ScribePostgres

/// The states of a job; see `sql/002_jobs.sql` and `sql/012_job_batches.sql`.
public enum JobState: String, Sendable, Hashable, PostgresCodable {
    /// A batch's completion job, waiting for the batch's jobs to finish.
    case pending
    case available, running, succeeded, failed, cancelled
}

/// A job to enqueue: what to run (`kind`, handled by the handler of that
/// kind), where (`queue`, which has its own concurrency in each worker), and
/// with what (`args`, any JSON the handler decodes).
public struct NewJob: Sendable {
    public var id: UUID
    public var kind: String
    public var queue: String
    /// The args as JSON text.
    public var args: String
    public var priority: Int
    public var maxAttempts: Int
    /// Jobs with the same key take turns with other keys' jobs (sql/006): a
    /// key's n-th unfinished job in its queue waits behind every other key's
    /// first n−1. Typically the owner's id.
    public var fairnessKey: String?
    /// What the job's creator wants to follow it into its handler's logs
    /// (e.g. `request_id`); the queue carries it and never reads it.
    public var metadata: [String: String]
    /// At most one unfinished job (available, running or pending) has this
    /// key, as River's unique jobs: enqueueing another while it is there
    /// does nothing (sql/016). Nil: no such limit.
    public var uniqueKey: String?

    /// A job whose args are `args` encoded as JSON.
    public init<Args: Encodable>(
        kind: String,
        queue: String,
        args: Args,
        maxAttempts: Int,
        priority: Int = 0,
        fairnessKey: String? = nil,
        metadata: [String: String] = [:],
        uniqueKey: String? = nil,
        id: UUID = .v7()
    ) throws {
        self.uniqueKey = uniqueKey
        self.id = id
        self.kind = kind
        self.queue = queue
        self.args = String(decoding: try JSONEncoder().encode(args), as: UTF8.self)
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.fairnessKey = fairnessKey
        self.metadata = metadata
    }

    /// The metadata as JSON text.
    var metadataJSON: String {
        String(decoding: (try? JSONEncoder().encode(metadata)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// A worker's claim on one attempt of a job. Every outcome is recorded only
/// while the lease still holds: same worker, same attempt, still running.
public struct JobLease: Sendable, Hashable, CustomStringConvertible {
    public var jobID: UUID
    public var workerID: String
    public var attempt: Int

    public init(jobID: UUID, workerID: String, attempt: Int) {
        self.jobID = jobID
        self.workerID = workerID
        self.attempt = attempt
    }

    public var description: String { "\(jobID)#\(attempt)@\(workerID)" }
}

/// A job a worker has just claimed.
public struct ClaimedJob: Sendable {
    public var lease: JobLease
    public var kind: String
    public var queue: String
    /// The args as JSON text.
    public var args: String
    public var maxAttempts: Int
    /// What the job's creator attached for its logs (see ``NewJob/metadata``).
    public var metadata: [String: String]

    public init(lease: JobLease, kind: String, queue: String, args: String, maxAttempts: Int, metadata: [String: String] = [:]) {
        self.lease = lease
        self.kind = kind
        self.queue = queue
        self.args = args
        self.maxAttempts = maxAttempts
        self.metadata = metadata
    }

    /// The args decoded; args a handler cannot read fail the job permanently.
    public func decodeArgs<Args: Decodable>(_ type: Args.Type) throws(JobError) -> Args {
        do {
            return try JSONDecoder().decode(Args.self, from: Data(args.utf8))
        } catch {
            throw .permanent("unreadable args for \(kind): \(error)", userMessage: "This task's details are damaged; it cannot run.")
        }
    }
}

/// A job whose state the queue changed without its handler writing the
/// outcome: a failed attempt, a hand-back on shutdown or outage, an expired
/// lease. The handler of its kind sees it in the same transaction
/// (``JobHandler/jobsChanged(_:on:)``), to keep what it owns in step.
public struct JobTransition: Sendable {
    /// Why the job changed.
    public enum Cause: Sendable {
        /// The handler threw; the error says what the user should read.
        case failed(JobError)
        /// The worker gave it back without spending an attempt (shutdown, database outage).
        case handedBack
        /// Its worker stopped renewing the lease (it died, hung, or ran past its time limit).
        case leaseExpired
    }

    public var jobID: UUID
    public var kind: String
    public var queue: String
    /// The args as JSON text.
    public var args: String
    /// `available` when it will run again, `failed` when it will not.
    public var state: JobState
    public var attempt: Int
    public var maxAttempts: Int
    public var cause: Cause

    /// The args decoded, nil when they cannot be.
    public func decodeArgs<Args: Decodable>(_ type: Args.Type) -> Args? {
        try? JSONDecoder().decode(Args.self, from: Data(args.utf8))
    }
}

/// A job as stored: what `GET /v1/jobs/{id}` and operators see.
public struct JobRecord: Sendable, Hashable {
    /// One failed attempt.
    public struct AttemptError: Sendable, Hashable, Codable {
        public var attempt: Int
        public var at: String
        public var error: String
    }

    public var id: UUID
    public var kind: String
    public var queue: String
    public var state: JobState
    public var attempt: Int
    public var maxAttempts: Int
    public var lastError: String?
    public var errors: [AttemptError]
    public var runAt: Date
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
}

/// One queue's jobs in one state, as ``JobQueue/depths(timeout:)`` reads them.
public struct QueueDepth: Sendable, Hashable {
    public var queue: String
    /// `available` or `running`.
    public var state: JobState
    public var count: Int
    /// For `available`: how long the oldest job whose `run_at` has passed
    /// has waited to be claimed (zero when none has); zero for `running`.
    public var oldestWait: Duration

    public init(queue: String, state: JobState, count: Int, oldestWait: Duration) {
        self.queue = queue
        self.state = state
        self.count = count
        self.oldestWait = oldestWait
    }

    typealias Row = (String, JobState, Int, Double)

    init(row: Row) {
        self.init(queue: row.0, state: row.1, count: row.2, oldestWait: .milliseconds(Int64((max(0, row.3) * 1000).rounded())))
    }
}
