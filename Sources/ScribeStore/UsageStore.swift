import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// A person's daily allowance of requests after a charge.
public struct DailyAllowance: Sendable, Hashable {
    /// Requests counted today, this charge included.
    public var used: Int
    /// The day's limit; nil when the channel has none.
    public var limit: Int?
    /// When the count starts again: the next midnight, UTC.
    public var resetsAt: Date

    /// Requests left today; nil when unlimited.
    public var remaining: Int? { limit.map { max(0, $0 - used) } }
}

/// The charge would take a person past their daily limit: nothing was counted.
public struct DailyLimitReached: Error, Sendable, Hashable {
    public var limit: Int
    /// Requests already counted today.
    public var used: Int
    /// When the count starts again: the next midnight, UTC.
    public var resetsAt: Date
}

/// The cap on one person's files waiting to be read or answered was reached: nothing was stored.
public struct FilesInFlightLimitReached: Error, Sendable, Hashable {
    public var limit: Int
    /// Files of this person in flight, counting the refused one.
    public var inFlight: Int

    public init(limit: Int, inFlight: Int) {
        self.limit = limit
        self.inFlight = inFlight
    }

    /// The SQLSTATE of a commit the cap refused (`sql/019`, `sql/020`).
    static let sqlState = "SF429"

    /// The refusal `error` carries, if it is the cap's: a commit of uploads
    /// refused by the files-in-flight trigger, its DETAIL the files held.
    public init?(_ error: any Error, limit: Int?) {
        guard let error = error as? PSQLError, error.serverInfo?[.sqlState] == Self.sqlState else { return nil }
        let held = error.serverInfo?[.detail].flatMap { Int($0) } ?? 0
        self.init(limit: limit ?? held, inFlight: held + 1)
    }
}

/// The daily request counts. (The files-in-flight cap is counted by triggers
/// at the upload's commit, `sql/019` and `sql/020`; ``FilesInFlightLimitReached``
/// reads its refusal.)
public struct UsageStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }
    /// The next midnight UTC, as the database's clock sees it.
    static let nextResetSQL = "((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'"

    /// Counts `requests` more against today's (UTC) limit of `userID`, on the
    /// caller's connection (inside its transaction, so a rollback takes the
    /// charge back).
    ///
    /// One statement both checks and adds (`charge_daily_requests`, in
    /// sql/011_daily_charge.sql): concurrent charges queue on the row, so at
    /// 29 of 30 exactly one of any number of concurrent single charges
    /// passes. A `limit` of nil counts without a cap.
    ///
    /// - Throws: ``DailyLimitReached`` when the charge does not fit; nothing is counted then.
    public func chargeDailyRequests(
        _ requests: Int,
        userID: UUID,
        limit: Int?,
        on connection: PostgresConnection
    ) async throws -> DailyAllowance {
        let cap = limit ?? Int(Int32.max)
        // The statement is sql/011_daily_charge.sql's function, which the benchmark calls too.
        let rows = try await connection.query(
            "SELECT requests, resets_at FROM charge_daily_requests(\(userID), \(Int32(clamping: requests)), \(Int32(clamping: cap)))",
            logger: logger
        )
        for try await (used, resetsAt) in rows.decode(DailyAllowance.Row.self) {
            return DailyAllowance(used: used, limit: limit, resetsAt: resetsAt)
        }
        let refused = try await allowance(userID: userID, limit: cap, on: connection)
        throw DailyLimitReached(limit: cap, used: refused.used, resetsAt: refused.resetsAt)
    }

    /// Takes back `requests` counted today for `userID` (a request that could
    /// not be served). Never goes below zero.
    public func refundDailyRequests(_ requests: Int, userID: UUID) async throws {
        _ = try await database.withConnection { connection in
            try await connection.query(
                """
                UPDATE daily_usage SET requests = greatest(0, requests - \(requests))
                WHERE user_id = \(userID) AND day = (now() AT TIME ZONE 'UTC')::date
                """,
                logger: logger
            )
        }
    }

    /// Today's allowance of `userID`, without counting anything.
    public func dailyAllowance(userID: UUID, limit: Int?) async throws -> DailyAllowance {
        try await database.withConnection { connection in try await allowance(userID: userID, limit: limit, on: connection) }
    }

    /// Today's count of `userID` and the next reset, on the caller's connection.
    func allowance(userID: UUID, limit: Int?, on connection: PostgresConnection) async throws -> DailyAllowance {
        let rows = try await connection.query(
            """
            SELECT coalesce((SELECT requests FROM daily_usage WHERE user_id = \(userID) AND day = (now() AT TIME ZONE 'UTC')::date), 0),
                   \(unescaped: Self.nextResetSQL)
            """,
            logger: logger
        )
        for try await (used, resetsAt) in rows.decode(DailyAllowance.Row.self) {
            return DailyAllowance(used: used, limit: limit, resetsAt: resetsAt)
        }
        throw StoreError(.notFound, "The daily count was not returned.")
    }

    /// Deletes the counts of days before yesterday (UTC): nobody is charged to them any more. Returns how many.
    public func pruneOldDays() async throws -> Int {
        try await database.withConnection { connection in
            try await connection.query(
                "DELETE FROM daily_usage WHERE day < (now() AT TIME ZONE 'UTC')::date - 1 RETURNING 1",
                logger: logger
            ).collect().count
        }
    }

}

extension DailyAllowance {
    /// Requests counted today and the next reset: what the charge and the
    /// allowance statements return.
    typealias Row = (Int, Date)
}
