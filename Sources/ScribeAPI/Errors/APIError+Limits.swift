import Foundation
import HTTPTypes
import ScribePostgres
import ScribeStore

/// The 429s: a limit reached, with `Retry-After` and what the limit is.
extension APIError {
    /// The person used today's requests: `Retry-After` until the reset (next
    /// midnight UTC), and the reset time and limit in the body.
    static func dailyLimitReached(_ reached: DailyLimitReached, now: Date = Date()) -> APIError {
        let seconds = max(1, Int(reached.resetsAt.timeIntervalSince(now).rounded(.up)))
        let resetAt = reached.resetsAt.formatted(.iso8601)
        return APIError(
            .tooManyRequests,
            code: "daily_limit_reached",
            message: "You have used all \(reached.limit) requests for today. The count starts again at \(resetAt).",
            headers: [.retryAfter: String(seconds)],
            limit: reached.limit,
            resetAt: resetAt
        )
    }

    /// The person has as many files waiting as one may have at once.
    static func filesInFlightLimitReached(_ reached: FilesInFlightLimitReached) -> APIError {
        APIError(
            .tooManyRequests,
            code: "too_many_files_in_flight",
            message: "You already have \(reached.limit) files waiting to be read or answered. Please wait for some to finish.",
            field: "file",
            headers: [.retryAfter: "30"],
            limit: reached.limit
        )
    }

    /// Too many failed logins for this account or from this address.
    static func loginThrottled(retryAfter: Duration) -> APIError {
        APIError(
            .tooManyRequests,
            code: "too_many_login_attempts",
            message: "Too many failed logins. Please wait before trying again.",
            headers: [.retryAfter: String(max(1, retryAfter.components.seconds))]
        )
    }
}
