import ScribeStore

/// Runs one claimed job to its end.
///
/// A job with a result records its success itself, in the transaction that
/// writes the result, guarded by the job's lease, and returns `.recorded`. A
/// job with nothing to write returns `.acknowledge`, and the worker marks it
/// succeeded together with others in one statement. For failure it throws: a
/// ``JobError`` says whether to retry and what the user should read; any
/// other error is treated as retryable.
public protocol JobHandler: Sendable {
    func run(_ job: ClaimedJob) async throws -> JobCompletion
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
    /// True when retrying cannot help (an unreadable file, a refused request).
    public var isPermanent: Bool
    /// For logs and the job's `last_error`.
    public var reason: String
    /// A sentence for the person who uploaded the file.
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
