import Foundation
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// The statements of the users, conversations, login-failure and service-key
/// tables on their own, against the real database: what each returns, and
/// that another user's row is simply not found.
@Suite struct TableStatementTests {
    static func newUser(_ stores: Stores, username: String? = nil) async throws -> User {
        try await stores.users.createUser(email: "\(UUID())@Example.com", username: username, passwordHash: "hash", origin: .commandLine)
    }

    @Test func aUserIsFoundByIdAndByEitherLoginIgnoringCase() async throws {
        try await TestDatabase.withStores { stores in
            let name = "user\(UUID().uuidString.prefix(8).lowercased())"
            let user = try await Self.newUser(stores, username: name)
            #expect(try await stores.users.user(id: user.id) == user)
            #expect(try await stores.users.user(id: UUID()) == nil)
            let byEmail = try #require(try await stores.users.credentials(login: user.email.uppercased()))
            #expect(byEmail.user == user && byEmail.passwordHash == "hash")
            #expect(try await stores.users.credentials(login: name.uppercased())?.user == user)
            #expect(try await stores.users.credentials(login: "nobody-\(UUID())") == nil)
        }
    }

    @Test func aTakenEmailOrUsernameIsAConflictNamingTheField() async throws {
        try await TestDatabase.withStores { stores in
            let name = "taken\(UUID().uuidString.prefix(8).lowercased())"
            let user = try await Self.newUser(stores, username: name)
            await #expect { try await stores.users.createUser(email: user.email.lowercased(), username: nil, passwordHash: "x", origin: .commandLine) } throws: { error in
                (error as? StoreError)?.code == .conflict && (error as? StoreError)?.field == "email"
            }
            await #expect { try await stores.users.createUser(email: "\(UUID())@example.com", username: name, passwordHash: "x", origin: .commandLine) } throws: { error in
                (error as? StoreError)?.code == .conflict && (error as? StoreError)?.field == "username"
            }
        }
    }

    @Test func aConversationIsItsOwnersAlone() async throws {
        try await TestDatabase.withStores { stores in
            let owner = try await Self.newUser(stores)
            let stranger = try await Self.newUser(stores)
            let created = try await stores.conversations.createConversation(userID: owner.id, title: "Contract")
            #expect(try await stores.conversations.conversation(id: created.id, userID: owner.id) == created)
            #expect(try await stores.conversations.conversation(id: created.id, userID: stranger.id) == nil)
            #expect(try await stores.conversations.renameConversation(id: created.id, userID: stranger.id, title: "Mine") == nil)
            #expect(try await stores.conversations.deleteConversation(id: created.id, userID: stranger.id, origin: .commandLine) == false)
            let renamed = try #require(try await stores.conversations.renameConversation(id: created.id, userID: owner.id, title: "Lease"))
            #expect(renamed.title == "Lease" && renamed.updatedAt >= created.updatedAt)
            #expect(try await stores.conversations.conversations(userID: stranger.id, limit: 10, after: nil).items.isEmpty)
            #expect(try await stores.conversations.deleteConversation(id: created.id, userID: owner.id, origin: .commandLine))
            #expect(try await stores.conversations.conversation(id: created.id, userID: owner.id) == nil)
        }
    }

    @Test func conversationsPageNewestFirstWithACursor() async throws {
        try await TestDatabase.withStores { stores in
            let owner = try await Self.newUser(stores)
            var made: [Conversation] = []
            for n in 0..<5 { made.append(try await stores.conversations.createConversation(userID: owner.id, title: "c\(n)")) }
            let first = try await stores.conversations.conversations(userID: owner.id, limit: 3, after: nil)
            let cursor = try #require(first.nextCursor.flatMap(ConversationCursor.init))
            let second = try await stores.conversations.conversations(userID: owner.id, limit: 3, after: cursor)
            #expect((first.items + second.items).map(\.id) == made.reversed().map(\.id))
            #expect(second.nextCursor == nil)
        }
    }

    @Test func loginFailuresCountThenBlockAndClear() async throws {
        try await TestDatabase.withStores { stores in
            let subject = "account:\(UUID())"
            var last: LoginFailureCount?
            for _ in 0..<3 {
                last = try await stores.loginFailures.recordLoginFailure(subject: subject, limit: 3, window: .seconds(900), lockout: .seconds(30), maxLockout: .seconds(900))
            }
            #expect(last?.failures == 3)
            let blocked = try #require(try await stores.loginFailures.loginBlockedUntil(subjects: [subject, "address:\(UUID())"]))
            #expect(blocked > Date())
            try await stores.loginFailures.clearLoginFailures(subject: subject)
            #expect(try await stores.loginFailures.loginBlockedUntil(subjects: [subject]) == nil)
        }
    }

    @Test func aServiceKeyOpensUntilItIsRevoked() async throws {
        try await TestDatabase.withStores { stores in
            let hash = (0..<32).map { _ in UInt8.random(in: 0...255) }
            let key = try await stores.serviceKeys.createServiceKey(name: "bot-\(UUID().uuidString.prefix(6))", prefix: "sk_scribe_ab", hash: hash, scopes: ["chat"])
            #expect(try await stores.serviceKeys.useServiceKey(hash: hash, origin: .commandLine)?.id == key.id)
            #expect(try await stores.serviceKeys.serviceKeys().contains { $0.id == key.id })
            #expect(try await stores.serviceKeys.revokeServiceKey(id: key.id))
            #expect(try await stores.serviceKeys.useServiceKey(hash: hash, origin: .commandLine) == nil)
            #expect(try await stores.serviceKeys.revokeServiceKey(id: key.id) == false, "revoked once")
        }
    }
}

/// The messages, events and audit statements on their own.
@Suite struct MessageEventAuditStatementTests {
    @Test func aChatIsAnsweredOnceAndItsEventsFollowInOrder() async throws {
        try await TestDatabase.withStores { stores in
            let user = try await TableStatementTests.newUser(stores)
            let started = try await stores.messages.startChat(userID: user.id, conversationID: nil, text: "What is due?", newTitle: "What is due?")
            #expect(started.message.status == .processing && started.message.stage == .llm)
            let answered = try await stores.messages.finishChat(
                userMessageID: started.message.id, conversationID: started.conversation.id, answer: "127.40 EUR", metadata: MessageMetadata()
            )
            #expect(answered.userMessage.status == .done && answered.userMessage.stage == nil)
            #expect(answered.assistantMessage.replyTo == started.message.id)
            await #expect {
                try await stores.messages.finishChat(userMessageID: started.message.id, conversationID: started.conversation.id, answer: "again", metadata: MessageMetadata())
            } throws: { ($0 as? StoreError)?.code == .conflict }
            let history = try await stores.messages.history(conversationID: started.conversation.id, through: answered.assistantMessage.id, limit: 10)
            #expect(history.map(\.id) == [started.message.id, answered.assistantMessage.id])

            // An event is given out once no running transaction can precede it
            // (other tests' transactions run beside this one): wait for both.
            var found: EventBatch?
            try await waitUntil("both messages' events are final", timeout: .seconds(30)) {
                let batch = try await stores.events.events(conversationID: started.conversation.id, after: .start, limit: 100)
                found = batch
                return Set(batch.events.map(\.messageID)).count == 2
            }
            let batch = try #require(found)
            #expect(!batch.events.isEmpty && batch.events.map(\.position) == batch.events.map(\.position).sorted())
            #expect(Set(batch.events.map(\.messageID)) == [started.message.id, answered.assistantMessage.id])
            #expect(try await stores.events.latestEventPosition(conversationID: started.conversation.id) == batch.events.last?.position)
            #expect(try await stores.events.events(conversationID: started.conversation.id, after: batch.events.last!.position, limit: 100).events.isEmpty)
        }
    }

    /// Positions order by their transaction's number, not its digits: an
    /// event of transaction 10 comes after one of transaction 9 (as text,
    /// "10" sorts first), in a batch and as the latest position.
    @Test func eventsFollowTheirTransactionsAcrossADigitMore() async throws {
        try await TestDatabase.withStores { stores in
            let user = try await TableStatementTests.newUser(stores)
            let started = try await stores.messages.startChat(userID: user.id, conversationID: nil, text: "Hi", newTitle: "Hi")
            let conversation = started.conversation.id
            try await stores.database.withConnection { connection in
                _ = try await connection.query("DELETE FROM conversation_events WHERE conversation_id = \(conversation)", logger: TestDatabase.logger)
                for transaction in ["9", "10", "99", "100"] {
                    _ = try await connection.query(
                        """
                        INSERT INTO conversation_events (tx, conversation_id, message_id, kind, data)
                        VALUES (\(transaction)::xid8, \(conversation), \(started.message.id), 'message.updated', '{}')
                        """,
                        logger: TestDatabase.logger
                    )
                }
            }
            let batch = try await stores.events.events(conversationID: conversation, after: .start, limit: 100)
            #expect(batch.events.map(\.position.transaction) == [9, 10, 99, 100])
            #expect(try await stores.events.latestEventPosition(conversationID: conversation).transaction == 100)
            let rest = try await stores.events.events(conversationID: conversation, after: batch.events[1].position, limit: 100)
            #expect(rest.events.map(\.position.transaction) == [99, 100])
        }
    }

    @Test func aFailedMessageSaysWhyAndAnotherUsersMessageIsNotFound() async throws {
        try await TestDatabase.withStores { stores in
            let user = try await TableStatementTests.newUser(stores)
            let stranger = try await TableStatementTests.newUser(stores)
            let started = try await stores.messages.startChat(userID: user.id, conversationID: nil, text: "Hello", newTitle: "Hello")
            let failed = try #require(try await stores.messages.failMessage(id: started.message.id, error: "The assistant could not answer."))
            // It keeps the stage it failed at (an abandoned chat, failed by the sweeper, does not).
            #expect(failed.status == .failed && failed.error == "The assistant could not answer." && failed.stage == .llm)
            #expect(try await stores.messages.renderedMessage(id: started.message.id, userID: user.id) != nil)
            #expect(try await stores.messages.renderedMessage(id: started.message.id, userID: stranger.id) == nil)
            #expect(try await stores.messages.renderedMessages(conversationID: started.conversation.id, userID: stranger.id, limit: 10, after: nil) == nil)
            await #expect { try await stores.messages.startChat(userID: stranger.id, conversationID: started.conversation.id, text: "Mine?", newTitle: "x") } throws: {
                ($0 as? StoreError)?.code == .notFound
            }
        }
    }

    @Test func aRegistrationIsAuditedWithoutSecrets() async throws {
        try await TestDatabase.withStores { stores in
            let user = try await TableStatementTests.newUser(stores)
            let events = try await stores.audit.auditEvents(action: .userRegistered, limit: 1000)
            let mine = try #require(events.first { $0.userID == user.id })
            #expect(mine.origin.address == "command-line" && mine.detail.values.allSatisfy { !$0.contains("hash") })
        }
    }
}
