import ScribeStore

/// Runs one claimed job to its end.
///
/// A handler records success itself, inside the transaction that writes the
/// job's result and guarded by the job's lease. For failure it throws: a
/// ``JobError`` says whether to retry and what the user should read; any
/// other error is treated as retryable.
public protocol JobHandler: Sendable {
    func run(_ job: ClaimedJob) async throws
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
