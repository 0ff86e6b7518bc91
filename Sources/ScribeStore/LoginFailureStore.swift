import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// A subject's failed logins after one more was counted.
public struct LoginFailureCount: Sendable, Hashable {
    /// Failures in the current run (a quiet window starts the count again).
    public var failures: Int
    /// Until when the subject may not try again; nil when it still may.
    public var blockedUntil: Date?
}

/// Failed logins per subject (an account, an address), shared by every API
/// process; see `sql/010_service_accounts.sql`.
public struct LoginFailureStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }
    /// The latest time any of `subjects` is blocked until, if it is still ahead.
    public func loginBlockedUntil(subjects: [String]) async throws -> Date? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                "SELECT max(blocked_until) FROM login_failures WHERE subject = ANY(\(subjects)) AND blocked_until > now()",
                logger: logger
            )
            for try await until in rows.decode(Date?.self) { return until }
            return nil
        }
    }

    /// Counts one more failed login of `subject`, in one statement.
    ///
    /// After `window` without a failure the count starts again at one. From
    /// `limit` failures on, each failure blocks the subject for `lockout`,
    /// doubled for each failure past the limit, up to `maxLockout`.
    public func recordLoginFailure(
        subject: String,
        limit: Int,
        window: Duration,
        lockout: Duration,
        maxLockout: Duration
    ) async throws -> LoginFailureCount {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                WITH policy AS (
                    SELECT make_interval(secs => \(window / .seconds(1))) AS quiet,
                           \(lockout / .seconds(1))::float8 AS lockout, \(maxLockout / .seconds(1))::float8 AS max_lockout, \(limit)::int AS lim
                )
                INSERT INTO login_failures AS f (subject, failures, blocked_until)
                SELECT \(subject), 1, CASE WHEN 1 >= lim THEN now() + make_interval(secs => lockout) END FROM policy
                ON CONFLICT (subject) DO UPDATE SET
                    failures = CASE WHEN f.last_failed_at < now() - (SELECT quiet FROM policy) THEN 1 ELSE f.failures + 1 END,
                    first_failed_at = CASE WHEN f.last_failed_at < now() - (SELECT quiet FROM policy) THEN now() ELSE f.first_failed_at END,
                    last_failed_at = now(),
                    blocked_until = (
                        SELECT CASE WHEN n >= lim
                               THEN now() + make_interval(secs => least(max_lockout, lockout * power(2, least(n - lim, 30))))
                               END
                        FROM policy, LATERAL (
                            SELECT CASE WHEN f.last_failed_at < now() - policy.quiet THEN 1 ELSE f.failures + 1 END AS n
                        ) counted
                    )
                RETURNING failures, blocked_until
                """,
                logger: logger
            )
            for try await (failures, blockedUntil) in rows.decode(LoginFailureCount.Row.self) {
                return LoginFailureCount(failures: failures, blockedUntil: blockedUntil)
            }
            throw StoreError(.notFound, "The failure count was not returned.")
        }
    }

    /// Deletes the runs of failures quiet for longer than `window` and no
    /// longer blocked; returns how many.
    public func prune(quietFor window: Duration) async throws -> Int {
        try await database.withConnection { connection in
            try await connection.query(
                """
                DELETE FROM login_failures
                WHERE last_failed_at < now() - make_interval(secs => \(window / .seconds(1)))
                  AND (blocked_until IS NULL OR blocked_until < now())
                RETURNING 1
                """,
                logger: logger
            ).collect().count
        }
    }

    /// Forgets `subject`'s failed logins (after a successful one).
    public func clearLoginFailures(subject: String) async throws {
        _ = try await database.withConnection { connection in
            try await connection.query("DELETE FROM login_failures WHERE subject = \(subject)", logger: logger)
        }
    }
}

extension LoginFailureCount {
    /// `failures, blocked_until`, as the counting statement returns them.
    typealias Row = (Int, Date?)
}
