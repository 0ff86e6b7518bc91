import Foundation
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// The statements of the users, conversations, login-failure and service-key
/// tables on their own, against the real database: what each returns, and
/// that another user's row is simply not found.
@Suite struct TableStatementTests {
    static func newUser(_ store: Store, username: String? = nil) async throws -> User {
        try await store.createUser(email: "\(UUID())@Example.com", username: username, passwordHash: "hash", origin: .commandLine)
    }

    @Test func aUserIsFoundByIdAndByEitherLoginIgnoringCase() async throws {
        try await TestDatabase.withStore { store in
            let name = "user\(UUID().uuidString.prefix(8).lowercased())"
            let user = try await Self.newUser(store, username: name)
            #expect(try await store.user(id: user.id) == user)
            #expect(try await store.user(id: UUID()) == nil)
            let byEmail = try #require(try await store.credentials(login: user.email.uppercased()))
            #expect(byEmail.user == user && byEmail.passwordHash == "hash")
            #expect(try await store.credentials(login: name.uppercased())?.user == user)
            #expect(try await store.credentials(login: "nobody-\(UUID())") == nil)
        }
    }

    @Test func aTakenEmailOrUsernameIsAConflictNamingTheField() async throws {
        try await TestDatabase.withStore { store in
            let name = "taken\(UUID().uuidString.prefix(8).lowercased())"
            let user = try await Self.newUser(store, username: name)
            await #expect { try await store.createUser(email: user.email.lowercased(), username: nil, passwordHash: "x", origin: .commandLine) } throws: { error in
                (error as? StoreError)?.code == .conflict && (error as? StoreError)?.field == "email"
            }
            await #expect { try await store.createUser(email: "\(UUID())@example.com", username: name, passwordHash: "x", origin: .commandLine) } throws: { error in
                (error as? StoreError)?.code == .conflict && (error as? StoreError)?.field == "username"
            }
        }
    }

    @Test func aConversationIsItsOwnersAlone() async throws {
        try await TestDatabase.withStore { store in
            let owner = try await Self.newUser(store)
            let stranger = try await Self.newUser(store)
            let created = try await store.createConversation(userID: owner.id, title: "Contract")
            #expect(try await store.conversation(id: created.id, userID: owner.id) == created)
            #expect(try await store.conversation(id: created.id, userID: stranger.id) == nil)
            #expect(try await store.renameConversation(id: created.id, userID: stranger.id, title: "Mine") == nil)
            #expect(try await store.deleteConversation(id: created.id, userID: stranger.id, origin: .commandLine) == false)
            let renamed = try #require(try await store.renameConversation(id: created.id, userID: owner.id, title: "Lease"))
            #expect(renamed.title == "Lease" && renamed.updatedAt >= created.updatedAt)
            #expect(try await store.conversations(userID: stranger.id, limit: 10, after: nil).items.isEmpty)
            #expect(try await store.deleteConversation(id: created.id, userID: owner.id, origin: .commandLine))
            #expect(try await store.conversation(id: created.id, userID: owner.id) == nil)
        }
    }

    @Test func conversationsPageNewestFirstWithACursor() async throws {
        try await TestDatabase.withStore { store in
            let owner = try await Self.newUser(store)
            var made: [Conversation] = []
            for n in 0..<5 { made.append(try await store.createConversation(userID: owner.id, title: "c\(n)")) }
            let first = try await store.conversations(userID: owner.id, limit: 3, after: nil)
            let cursor = try #require(first.nextCursor.flatMap(ConversationCursor.init))
            let second = try await store.conversations(userID: owner.id, limit: 3, after: cursor)
            #expect((first.items + second.items).map(\.id) == made.reversed().map(\.id))
            #expect(second.nextCursor == nil)
        }
    }

    @Test func loginFailuresCountThenBlockAndClear() async throws {
        try await TestDatabase.withStore { store in
            let subject = "account:\(UUID())"
            var last: LoginFailureCount?
            for _ in 0..<3 {
                last = try await store.recordLoginFailure(subject: subject, limit: 3, window: .seconds(900), lockout: .seconds(30), maxLockout: .seconds(900))
            }
            #expect(last?.failures == 3)
            let blocked = try #require(try await store.loginBlockedUntil(subjects: [subject, "address:\(UUID())"]))
            #expect(blocked > Date())
            try await store.clearLoginFailures(subject: subject)
            #expect(try await store.loginBlockedUntil(subjects: [subject]) == nil)
        }
    }

    @Test func aServiceKeyOpensUntilItIsRevoked() async throws {
        try await TestDatabase.withStore { store in
            let hash = (0..<32).map { _ in UInt8.random(in: 0...255) }
            let key = try await store.createServiceKey(name: "bot-\(UUID().uuidString.prefix(6))", prefix: "sk_scribe_ab", hash: hash, scopes: ["chat"])
            #expect(try await store.useServiceKey(hash: hash, origin: .commandLine)?.id == key.id)
            #expect(try await store.serviceKeys().contains { $0.id == key.id })
            #expect(try await store.revokeServiceKey(id: key.id))
            #expect(try await store.useServiceKey(hash: hash, origin: .commandLine) == nil)
            #expect(try await store.revokeServiceKey(id: key.id) == false, "revoked once")
        }
    }
}
