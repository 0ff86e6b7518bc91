import PostgresNIO
import ScribePostgres

/// Runs the jobs of one kind.
///
/// A job with a result records its success itself, in the transaction that
/// writes the result (``JobQueue/complete(_:on:)``, guarded by the job's
/// lease), and returns `.recorded`. A job with nothing to write returns
/// `.acknowledge`, and the worker marks it succeeded together with others in
/// one statement. For failure it throws: a ``JobError`` says whether to retry
/// and what the user should read; any other error is treated as retryable.
public protocol JobHandler: Sendable {
    /// The kind of job this handler runs (`jobs.kind`).
    var kind: String { get }

    /// Runs one claimed job to its end.
    func run(_ job: ClaimedJob) async throws -> JobCompletion

    /// Sees jobs of this kind that the queue changed on its own (a failed
    /// attempt, a hand-back, an expired lease), inside the transaction that
    /// changed them, to keep what the handler owns in step. By default, nothing.
    func jobsChanged(_ transitions: [JobTransition], on connection: PostgresConnection) async throws
}

extension JobHandler {
    public func jobsChanged(_ transitions: [JobTransition], on connection: PostgresConnection) async throws {}
}

/// Does nothing: the queue's own overhead, for benchmarks (`kind = 'noop'`).
public struct NoopJobHandler: JobHandler {
    public let kind = "noop"

    public init() {}

    public func run(_ job: ClaimedJob) async throws -> JobCompletion { .acknowledge }
}

/// How a handler's success is recorded.
public enum JobCompletion: Sendable {
    /// The handler wrote the job's outcome in its own final transaction.
    case recorded
    /// Nothing to write: the worker marks the job succeeded (batched with others).
    case acknowledge
}

/// Why a job attempt failed, and what to do about it.
public struct JobError: Error, Sendable, CustomStringConvertible {
    /// True when retrying cannot help (input the handler cannot use, a refused request).
    public var isPermanent: Bool
    /// For logs and the job's `last_error`.
    public var reason: String
    /// A sentence for the person the job works for, safe to show (no internals).
    public var userMessage: String
    /// The earliest a retry makes sense, when the cause said (e.g. `Retry-After`).
    public var retryAfter: Duration?

    /// A failure worth retrying later.
    public static func retryable(_ reason: String, userMessage: String, retryAfter: Duration? = nil) -> JobError {
        JobError(isPermanent: false, reason: reason, userMessage: userMessage, retryAfter: retryAfter)
    }

    /// A failure no retry can fix.
    public static func permanent(_ reason: String, userMessage: String) -> JobError {
        JobError(isPermanent: true, reason: reason, userMessage: userMessage, retryAfter: nil)
    }

    public var description: String { "\(isPermanent ? "permanent" : "retryable"): \(reason)" }
}
