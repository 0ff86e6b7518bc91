import Foundation
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// The daily count's statements on their own, against the real database:
/// a charge that fits is counted, one that does not is refused and counts
/// nothing, a refund never goes below zero.
@Suite struct DailyUsageStatementTests {
    @Test func aChargeCountsUpToTheLimitAndNoFurther() async throws {
        try await TestDatabase.withStores { stores in
            let user = try await stores.users.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x", origin: .commandLine)
            let charge = { @Sendable (requests: Int) in
                try await stores.database.transaction { connection in
                    try await stores.usage.chargeDailyRequests(requests, userID: user.id, limit: 3, on: connection)
                }
            }
            let first = try await charge(2)
            #expect(first.used == 2 && first.remaining == 1)
            #expect(first.resetsAt > Date() && first.resetsAt.timeIntervalSinceNow <= 86_400)
            await #expect(throws: DailyLimitReached.self) { try await charge(2) }
            #expect(try await stores.usage.dailyAllowance(userID: user.id, limit: 3).used == 2, "a refused charge counts nothing")
            #expect(try await charge(1).remaining == 0)
            try await stores.usage.refundDailyRequests(5, userID: user.id)
            #expect(try await stores.usage.dailyAllowance(userID: user.id, limit: 3).used == 0, "never below zero")
        }
    }

    @Test func aChargeRolledBackWithItsTransactionCountsNothing() async throws {
        try await TestDatabase.withStores { stores in
            let user = try await stores.users.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x", origin: .commandLine)
            struct Abandon: Error {}
            await #expect(throws: Abandon.self) {
                try await stores.database.transaction { connection in
                    _ = try await stores.usage.chargeDailyRequests(1, userID: user.id, limit: nil, on: connection)
                    throw Abandon()
                }
            }
            #expect(try await stores.usage.dailyAllowance(userID: user.id, limit: nil).used == 0)
        }
    }
}
