import Foundation
import NIOCore
import PostgresNIO
import ScribeStore
import ScribeTestSupport
import Synchronization
import Testing

@testable import ScribeAPI

/// The history pages an API process keeps, and why they are never stale: a
/// change committed anywhere before a request is seen by that request.
@Suite(.timeLimit(.minutes(5))) struct HistoryPageCacheTests {
    static func page(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func aKeptPageIsServedOnlyToItsOwnerUntilItsConversationChanges() {
        let cache = HistoryPageCache(capacity: 1 << 20)
        let conversation = UUID(), owner = UUID(), stranger = UUID()
        let key = HistoryPageCache.Key(conversationID: conversation, after: nil, limit: 50)
        #expect(cache.page(key, userID: owner) == nil)

        cache.keep(Self.page("v1"), as: key, userID: owner, ticket: cache.ticket(for: conversation))
        #expect(cache.page(key, userID: owner) == Self.page("v1"))
        #expect(cache.page(key, userID: stranger) == nil, "another person's page is read (and refused) by the database")
        #expect(cache.page(HistoryPageCache.Key(conversationID: conversation, after: UUID(), limit: 50), userID: owner) == nil)

        cache.invalidate(conversation)
        #expect(cache.page(key, userID: owner) == nil)
        #expect(cache.bytes == HistoryPageCache.entryCost)
    }

    @Test func aPageReadWhileItsConversationChangedIsNotKept() {
        let cache = HistoryPageCache(capacity: 1 << 20)
        let conversation = UUID(), owner = UUID()
        let key = HistoryPageCache.Key(conversationID: conversation, after: nil, limit: 50)
        let ticket = cache.ticket(for: conversation)
        // The change is heard after the read began and before it is kept.
        cache.invalidate(conversation)
        cache.keep(Self.page("stale"), as: key, userID: owner, ticket: ticket)
        #expect(cache.page(key, userID: owner) == nil)

        let everything = cache.ticket(for: conversation)
        cache.invalidate(nil)
        cache.keep(Self.page("stale"), as: key, userID: owner, ticket: everything)
        #expect(cache.page(key, userID: owner) == nil, "a listener restart forgets pages being read too")
    }

    @Test func memoryStaysWithinTheCapacityAndTheRecentlyUsedStay() {
        let capacity = 64 * 1024
        let cache = HistoryPageCache(capacity: capacity)
        let owner = UUID()
        let body = Self.page(String(repeating: "x", count: 1000))
        let hot = HistoryPageCache.Key(conversationID: UUID(), after: nil, limit: 50)
        cache.keep(body, as: hot, userID: owner, ticket: cache.ticket(for: hot.conversationID))
        for _ in 0..<1000 {
            let key = HistoryPageCache.Key(conversationID: UUID(), after: nil, limit: 50)
            cache.keep(body, as: key, userID: owner, ticket: cache.ticket(for: key.conversationID))
            #expect(cache.page(hot, userID: owner) != nil)
            #expect(cache.bytes <= capacity)
        }
    }

    /// Waits until `hub` listens (it starts with the API's services).
    static func untilListening(_ hub: EventHub) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while await !hub.barrier.caughtUp() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func withNoListenerEveryPageIsRead() async throws {
        try await TestDatabase.withStores { stores in
            // Not running: it has never listened, so it cannot tell what it missed.
            let hub = EventHub(database: stores.database, events: stores.events, logger: TestDatabase.logger)
            let reads = Mutex(0)
            let key = HistoryPageCache.Key(conversationID: UUID(), after: nil, limit: 50)
            for _ in 0..<3 {
                let page = try await hub.historyPage(key, userID: UUID()) {
                    reads.withLock { $0 += 1 }
                    return Self.page("read")
                }
                #expect(page == Self.page("read"))
            }
            #expect(reads.withLock { $0 } == 3)
        }
    }

    /// A page kept by this process is served without a query: a change made
    /// with notifications off (so no process hears it) stays unseen, which
    /// shows where the page came from; a change made as every writer makes it
    /// is seen by the very next request.
    @Test func anUnchangedConversationIsServedFromMemoryAndAChangeAtOnce() async throws {
        try await withAPI { api in
            try await Self.untilListening(api.events)
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            _ = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "First question."])
            let path = "/v1/conversations/\(conversation)/messages"
            let first = try await api.send(.get, path, token: token)
            #expect(first.items.count == 2)
            let messageID = try #require(first.items.first?["id"] as? String)

            try await api.stores.database.transaction { connection in
                _ = try await connection.query("SET LOCAL session_replication_role = replica", logger: TestDatabase.logger)
                _ = try await connection.query(
                    PostgresQuery(unsafeSQL: "UPDATE messages SET rendered = replace(rendered, 'First question.', 'Unheard edit.') WHERE id = '\(messageID)'"),
                    logger: TestDatabase.logger
                )
            }
            let kept = try await api.send(.get, path, token: token)
            #expect(kept.items.first?["content"] as? String == "First question.", "the kept page, not the database")

            try await api.execute(unsafeSQL: "UPDATE messages SET content = 'Heard edit.' WHERE id = '\(messageID)'")
            let fresh = try await api.send(.get, path, token: token)
            #expect(fresh.items.first?["content"] as? String == "Heard edit.")
        }
    }

    /// Another process's writes (here: statements on other connections, as a
    /// worker or another API process makes them) are seen by the next
    /// request, every time: the request waits until the listener has heard
    /// everything committed before it, not for luck in the notification's race.
    @Test func everyWriteCommittedBeforeARequestIsInItsPage() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let path = "/v1/conversations/\(conversation)/messages?limit=100"
            try await Self.untilListening(api.events)
            #expect(try await api.send(.get, path, token: token).items.isEmpty)
            for round in 1...40 {
                try await api.execute(unsafeSQL: """
                    INSERT INTO messages (id, conversation_id, role, content, status)
                    VALUES (gen_random_uuid(), '\(conversation)', 'user', 'Written elsewhere \(round).', 'done')
                    """)
                let page = try await api.send(.get, path, token: token)
                #expect(page.items.count == round, "round \(round): the page missed a committed message")
            }

            try await api.execute(unsafeSQL: "DELETE FROM conversations WHERE id = '\(conversation)'")
            let gone = try await api.send(.get, path, token: token)
            #expect(gone.status == .notFound)
        }
    }

    @Test func anotherPersonStillGetsNotFound() async throws {
        try await withAPI { api in
            let (owner, _) = try await api.registerUser()
            let (stranger, _) = try await api.registerUser()
            let conversation = try await api.createConversation(owner)
            let path = "/v1/conversations/\(conversation)/messages"
            #expect(try await api.send(.get, path, token: owner).status == .ok)
            #expect(try await api.send(.get, path, token: owner).status == .ok)
            let reply = try await api.send(.get, path, token: stranger)
            #expect(reply.status == .notFound)
        }
    }
}
