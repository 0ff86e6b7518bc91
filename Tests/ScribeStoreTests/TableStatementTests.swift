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

/// The messages, events and audit statements on their own.
@Suite struct MessageEventAuditStatementTests {
    @Test func aChatIsAnsweredOnceAndItsEventsFollowInOrder() async throws {
        try await TestDatabase.withStore { store in
            let user = try await TableStatementTests.newUser(store)
            let started = try await store.startChat(userID: user.id, conversationID: nil, text: "What is due?", newTitle: "What is due?")
            #expect(started.message.status == .processing && started.message.stage == .llm)
            let answered = try await store.finishChat(
                userMessageID: started.message.id, conversationID: started.conversation.id, answer: "127.40 EUR", metadata: MessageMetadata()
            )
            #expect(answered.userMessage.status == .done && answered.userMessage.stage == nil)
            #expect(answered.assistantMessage.replyTo == started.message.id)
            await #expect {
                try await store.finishChat(userMessageID: started.message.id, conversationID: started.conversation.id, answer: "again", metadata: MessageMetadata())
            } throws: { ($0 as? StoreError)?.code == .conflict }
            let history = try await store.history(conversationID: started.conversation.id, through: answered.assistantMessage.id, limit: 10)
            #expect(history.map(\.id) == [started.message.id, answered.assistantMessage.id])

            // An event is given out once no running transaction can precede it
            // (other tests' transactions run beside this one): wait for both.
            var found: EventBatch?
            try await waitUntil("both messages' events are final", timeout: .seconds(30)) {
                let batch = try await store.events(conversationID: started.conversation.id, after: .start, limit: 100)
                found = batch
                return Set(batch.events.map(\.messageID)).count == 2
            }
            let batch = try #require(found)
            #expect(!batch.events.isEmpty && batch.events.map(\.position) == batch.events.map(\.position).sorted())
            #expect(Set(batch.events.map(\.messageID)) == [started.message.id, answered.assistantMessage.id])
            #expect(try await store.latestEventPosition(conversationID: started.conversation.id) == batch.events.last?.position)
            #expect(try await store.events(conversationID: started.conversation.id, after: batch.events.last!.position, limit: 100).events.isEmpty)
        }
    }

    @Test func aFailedMessageSaysWhyAndAnotherUsersMessageIsNotFound() async throws {
        try await TestDatabase.withStore { store in
            let user = try await TableStatementTests.newUser(store)
            let stranger = try await TableStatementTests.newUser(store)
            let started = try await store.startChat(userID: user.id, conversationID: nil, text: "Hello", newTitle: "Hello")
            let failed = try #require(try await store.failMessage(id: started.message.id, error: "The assistant could not answer."))
            // It keeps the stage it failed at (an abandoned chat, failed by the sweeper, does not).
            #expect(failed.status == .failed && failed.error == "The assistant could not answer." && failed.stage == .llm)
            #expect(try await store.renderedMessage(id: started.message.id, userID: user.id) != nil)
            #expect(try await store.renderedMessage(id: started.message.id, userID: stranger.id) == nil)
            #expect(try await store.renderedMessages(conversationID: started.conversation.id, userID: stranger.id, limit: 10, after: nil) == nil)
            await #expect { try await store.startChat(userID: stranger.id, conversationID: started.conversation.id, text: "Mine?", newTitle: "x") } throws: {
                ($0 as? StoreError)?.code == .notFound
            }
        }
    }

    @Test func aRegistrationIsAuditedWithoutSecrets() async throws {
        try await TestDatabase.withStore { store in
            let user = try await TableStatementTests.newUser(store)
            let events = try await store.auditEvents(action: .userRegistered, limit: 1000)
            let mine = try #require(events.first { $0.userID == user.id })
            #expect(mine.origin.address == "command-line" && mine.detail.values.allSatisfy { !$0.contains("hash") })
        }
    }
}
