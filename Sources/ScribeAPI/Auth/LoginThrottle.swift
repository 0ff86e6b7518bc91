import Crypto
import Foundation
import ScribePostgres
import ScribeStore

/// How many failed logins are let through, per account and per address.
public struct LoginThrottlePolicy: Sendable, Hashable {
    /// Failures of one account (by the login as typed) before it is locked out.
    public var maxFailuresPerAccount: Int
    /// Failures from one address, over every account, before it is locked out.
    public var maxFailuresPerAddress: Int
    /// A run of failures ends after this long without one.
    public var window: Duration
    /// From this many failures on, each failed answer is slowed down.
    public var slowDownAfter: Int
    /// The first lockout; each further failure doubles it, up to `maxLockout`.
    public var lockout: Duration
    public var maxLockout: Duration

    public init(
        maxFailuresPerAccount: Int = 10,
        maxFailuresPerAddress: Int = 50,
        window: Duration = .seconds(15 * 60),
        slowDownAfter: Int = 3,
        lockout: Duration = .seconds(30),
        maxLockout: Duration = .seconds(15 * 60)
    ) {
        self.maxFailuresPerAccount = maxFailuresPerAccount
        self.maxFailuresPerAddress = maxFailuresPerAddress
        self.window = window
        self.slowDownAfter = slowDownAfter
        self.lockout = lockout
        self.maxLockout = maxLockout
    }
}

/// Slows down and then stops repeated failed logins, per account and per
/// address, across every API process (the counts are in Postgres).
///
/// The account is named by a hash of the login as typed, whether or not such
/// an account exists, so the answers never tell who is registered; and a
/// password typed into the login field is never stored.
struct LoginThrottle: Sendable {
    let failures: LoginFailureStore
    let policy: LoginThrottlePolicy

    /// The subjects of one login attempt.
    struct Subjects: Sendable {
        var account: String
        var address: String?

        var all: [String] { [account] + (address.map { [$0] } ?? []) }
    }

    static func subjects(login: String, address: String?) -> Subjects {
        let digest = SHA256.hash(data: Data(login.lowercased().utf8)).map { String(format: "%02x", $0) }.joined()
        return Subjects(account: "account:" + digest, address: address.map { "address:" + $0 })
    }

    /// Throws the 429 while the account or the address is locked out.
    func check(_ subjects: Subjects, now: Date = Date()) async throws {
        if let until = try await failures.loginBlockedUntil(subjects: subjects.all) {
            throw APIError.loginThrottled(retryAfter: .seconds(max(1, until.timeIntervalSince(now).rounded(.up))))
        }
    }

    /// Counts a failed login. Returns how long to hold the failed answer back
    /// (zero for the first few); throws the 429 once a limit is reached.
    func recordFailure(_ subjects: Subjects, now: Date = Date()) async throws -> Duration {
        var counts = [
            try await failures.recordLoginFailure(
                subject: subjects.account,
                limit: policy.maxFailuresPerAccount,
                window: policy.window,
                lockout: policy.lockout,
                maxLockout: policy.maxLockout
            )
        ]
        if let address = subjects.address {
            counts.append(
                try await failures.recordLoginFailure(
                    subject: address,
                    limit: policy.maxFailuresPerAddress,
                    window: policy.window,
                    lockout: policy.lockout,
                    maxLockout: policy.maxLockout
                )
            )
        }
        if let until = counts.compactMap(\.blockedUntil).max() {
            throw APIError.loginThrottled(retryAfter: .seconds(max(1, until.timeIntervalSince(now).rounded(.up))))
        }
        let failures = counts[0].failures
        guard failures >= policy.slowDownAfter else { return .zero }
        // 250 ms, then doubling, at most 2 s: slow for a script, barely felt by a person.
        return .milliseconds(min(2_000, 250 << min(failures - policy.slowDownAfter, 3)))
    }

    /// A successful login starts the account's count again.
    func recordSuccess(_ subjects: Subjects) async throws {
        try await failures.clearLoginFailures(subject: subjects.account)
    }
}
