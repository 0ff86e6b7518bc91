import Foundation
import HTTPTypes
import Hummingbird
import ScribeAPI
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// Failed logins slow down, then get 429 with Retry-After, per account and
/// per address; a success starts the count again; and nothing in the answers
/// tells whether the account exists.
@Suite struct LoginThrottleTests {
    static let policy = LoginThrottlePolicy(
        maxFailuresPerAccount: 3,
        maxFailuresPerAddress: 6,
        window: .seconds(600),
        slowDownAfter: 2,
        // Long enough that the "locked" check after the fourth try still falls
        // inside it when the suites run in parallel on two cores (3 s did not,
        // once, in a CI clone: the right password got 200).
        lockout: .seconds(10),
        maxLockout: .seconds(20)
    )
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    static func randomAddress() -> String { "10.\(Int.random(in: 0...255)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))" }

    func login(_ api: APIClient, _ login: String, _ password: String, from address: String) async throws -> APIClient.Reply {
        try await api.send(.post, "/v1/auth/login", json: ["login": login, "password": password], headers: [Self.forwardedFor: address])
    }

    @Test func anAccountIsSlowedThenLockedAndTheAnswersNeverTellWhetherItExists() async throws {
        try await withAPI(loginThrottle: Self.policy, http: HTTPPolicy(trustProxy: true)) { api in
            let name = "tess\(UUID().uuidString.prefix(8).lowercased())"
            let registered = try await api.send(.post, "/v1/auth/register", json: ["email": "\(name)@example.com", "password": "correct horse battery"])
            #expect(registered.status == .created)
            let userID = try #require(((registered["user"] as? [String: Any])?["id"] as? String).flatMap { UUID(uuidString: $0) })

            var shapes: [[String]] = []
            for login in ["\(name)@example.com", "nobody-\(name)@example.com"] {
                var statuses: [String] = []
                for attempt in 1...4 {
                    let started = ContinuousClock.now
                    let reply = try await self.login(api, login, "wrong password \(attempt)", from: Self.randomAddress())
                    statuses.append("\(reply.status.code) \(reply.errorCode ?? "")")
                    if attempt == 2 {
                        #expect(ContinuousClock.now - started >= .milliseconds(250), "the second failure is held back")
                    }
                    if reply.status == .tooManyRequests {
                        let retryAfter = try #require(reply.headers[.retryAfter].flatMap(Int.init))
                        #expect((1...20).contains(retryAfter))
                    }
                }
                shapes.append(statuses)
                if shapes.count == 1 {
                    // Locked: even the right password waits.
                    let locked = try await self.login(api, login, "correct horse battery", from: Self.randomAddress())
                    #expect(locked.status == .tooManyRequests)
                }
            }
            #expect(shapes[0] == ["401 invalid_credentials", "401 invalid_credentials", "429 too_many_login_attempts", "429 too_many_login_attempts"])
            #expect(shapes[0] == shapes[1], "an unknown account is throttled exactly like a real one")

            // After the lockout the right password works, and starts the count again.
            let deadline = ContinuousClock.now + .seconds(60)
            var unlocked = try await self.login(api, "\(name)@example.com", "correct horse battery", from: Self.randomAddress())
            while unlocked.status == .tooManyRequests, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
                unlocked = try await self.login(api, "\(name)@example.com", "correct horse battery", from: Self.randomAddress())
            }
            #expect(unlocked.status == .ok)
            let again = try await self.login(api, "\(name)@example.com", "wrong again", from: Self.randomAddress())
            #expect(again.status == .unauthorized, "a success reset the count")

            // Audited: three failures, the one that started the lockout, and nothing for the refused tries.
            let audit = try await api.stores.audit.auditEvents(limit: 10_000).filter { $0.userID == userID }
            #expect(audit.filter { $0.action == .loginFailed }.count == 4)
            #expect(audit.filter { $0.action == .loginThrottled }.count == 1)
            #expect(audit.filter { $0.action == .loginSucceeded }.count == 1)
        }
    }

    @Test func oneAddressTryingManyAccountsIsLockedOut() async throws {
        try await withAPI(loginThrottle: Self.policy, http: HTTPPolicy(trustProxy: true)) { api in
            let address = Self.randomAddress()
            var statuses: [HTTPResponse.Status] = []
            for index in 1...7 {
                statuses.append(try await self.login(api, "guess\(index)-\(UUID())@example.com", "password guess", from: address).status)
            }
            #expect(Array(statuses.prefix(5)) == Array(repeating: .unauthorized, count: 5))
            #expect(statuses[5] == .tooManyRequests && statuses[6] == .tooManyRequests)
            // Another address is not affected.
            let other = try await self.login(api, "guess-\(UUID())@example.com", "password guess", from: Self.randomAddress())
            #expect(other.status == .unauthorized)
        }
    }
}
