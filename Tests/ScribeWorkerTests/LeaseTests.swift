import Foundation
import NIOCore
import PostgresNIO
import ScribeStore
import ScribeTestSupport
import Testing

/// The queue's guarantees, checked statement by statement against Postgres.
@Suite struct LeaseTests {
    /// A user, a conversation and `count` queued text uploads on a fresh database.
    static func withQueuedJobs(
        _ count: Int,
        maxAttempts: Int = 5,
        _ body: @Sendable (Store, [EnqueuedUpload]) async throws -> Void
    ) async throws {
        let database = try await TestDatabase.createMigrated()
        try await Database.withRunning(database, options: TestDatabase.options, logger: TestDatabase.logger) { database in
            let store = Store(database: database, logger: TestDatabase.logger)
            let user = try await store.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x")
            let conversation = try await store.createConversation(userID: user.id, title: "t")
            let files = (0..<count).map { NewUpload(filename: "f\($0).txt", contentType: "text/plain", bytes: ByteBuffer(string: "file \($0)")) }
            let enqueued = try await store.enqueueUploads(
                userID: user.id, conversationID: conversation.id, caption: nil, files: files, idempotencyKey: nil, maxAttempts: maxAttempts
            )
            try await body(store, enqueued)
        }
    }

    static func answers(to messageID: UUID, _ store: Store) async throws -> Int {
        let rows = try await store.database.client.query("SELECT count(*) FROM messages WHERE reply_to = \(messageID)")
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    @Test func aSlowWorkerCannotCompleteAJobItsLeaseLost() async throws {
        try await Self.withQueuedJobs(1) { store, enqueued in
            let slow = try #require(try await store.claimJobs(workerID: "slow", limit: 1, lease: .milliseconds(200)).first)
            try await Task.sleep(for: .milliseconds(400))
            let rescued = try await store.rescueExpiredLeases()
            #expect(rescued.requeued == 1)
            let fast = try #require(try await store.claimJobs(workerID: "fast", limit: 1, lease: .seconds(30)).first)
            #expect(fast.lease.attempt == 2)

            // Every write of the first, slow worker is refused…
            await #expect(throws: StoreError.self) {
                try await store.completeUpload(slow.lease, answer: "late answer", metadata: .init(), dropPayload: true)
            }
            await #expect(throws: StoreError.self) { try await store.checkpointOCR(slow.lease, text: "x", pages: [AttachmentPage(page: 1, source: "ocr", rotation: 0, skew: 0, dpi: 300, confidence: 90, warning: nil)]) }
            await #expect(throws: StoreError.self) { try await store.retryJob(slow.lease, error: "e", userError: "e", delay: .zero) }
            // …even a worker that reuses its id, because the attempt differs.
            let sameWorkerOldAttempt = JobLease(jobID: fast.lease.jobID, workerID: "fast", attempt: 1)
            await #expect(throws: StoreError.self) {
                try await store.completeUpload(sameWorkerOldAttempt, answer: "stale", metadata: .init(), dropPayload: true)
            }

            try await store.completeUpload(fast.lease, answer: "the answer", metadata: .init(), dropPayload: true)
            let messageID = try #require(enqueued.first?.messageID)
            #expect(try await Self.answers(to: messageID, store) == 1)
            #expect(try await store.message(id: messageID)?.status == .done)
            #expect(try await store.payload(of: fast.lease) == nil, "bytes dropped on success")
        }
    }

    @Test func aJobThatKeepsKillingWorkersEndsFailed() async throws {
        try await Self.withQueuedJobs(1, maxAttempts: 2) { store, enqueued in
            for _ in 0..<2 {
                #expect(try await store.claimJobs(workerID: "doomed", limit: 1, lease: .milliseconds(50)).count == 1)
                try await Task.sleep(for: .milliseconds(120))
                _ = try await store.rescueExpiredLeases()
            }
            #expect(try await store.claimJobs(workerID: "next", limit: 1, lease: .seconds(30)).isEmpty)
            let messageID = try #require(enqueued.first?.messageID)
            let message = try #require(try await store.message(id: messageID))
            #expect(message.status == .failed)
            #expect(message.error?.contains("2 times") == true)
        }
    }

    @Test func handingBackDoesNotSpendAnAttempt() async throws {
        try await Self.withQueuedJobs(2) { store, enqueued in
            #expect(try await store.claimJobs(workerID: "deploying", limit: 2, lease: .seconds(30)).count == 2)
            #expect(try await store.handBackJobs(workerID: "deploying") == 2)
            let again = try await store.claimJobs(workerID: "next", limit: 2, lease: .seconds(30))
            #expect(again.map(\.lease.attempt) == [1, 1])
            #expect(try await store.message(id: enqueued[0].messageID)?.status == .processing)
        }
    }

    @Test func concurrentClaimsNeverShareAJob() async throws {
        try await Self.withQueuedJobs(40) { store, _ in
            let claims = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        try await store.claimJobs(workerID: "w\(worker)", limit: 10, lease: .seconds(30)).map(\.lease.jobID)
                    }
                }
                return try await group.reduce(into: [UUID]()) { $0 += $1 }
            }
            #expect(claims.count == 40)
            #expect(Set(claims).count == 40)
        }
    }

    @Test func retriesWaitTheirBackoffAndKeepTheCheckpoint() async throws {
        try await Self.withQueuedJobs(1) { store, enqueued in
            let first = try #require(try await store.claimJobs(workerID: "w", limit: 1, lease: .seconds(30)).first)
            try await store.checkpointOCR(first.lease, text: "recognised", pages: [AttachmentPage(page: 1, source: "ocr", rotation: 0, skew: 0, dpi: 300, confidence: 90, warning: nil)])
            #expect(try await store.retryJob(first.lease, error: "llm 503", userError: "busy", delay: .milliseconds(300)) == .available)
            #expect(try await store.claimJobs(workerID: "w", limit: 1, lease: .seconds(30)).isEmpty, "not before run_at")
            try await Task.sleep(for: .milliseconds(400))
            let second = try #require(try await store.claimJobs(workerID: "w", limit: 1, lease: .seconds(30)).first)
            #expect(second.ocrText == "recognised")
            #expect(second.lease.attempt == 2)
            let messageID = try #require(enqueued.first?.messageID)
            let message = try await store.message(id: messageID)
            #expect(message?.stage == "llm")
        }
    }
}

@Suite struct AbandonedChatTests {
    @Test func aChatLeftProcessingIsFailedAndUploadsAreLeftToTheQueue() async throws {
        try await LeaseTests.withQueuedJobs(1) { store, enqueued in
            let user = try #require(try await store.message(id: enqueued[0].messageID))
            let conversation = user.conversationID
            let owner = try #require(
                try await store.database.client.query("SELECT user_id FROM conversations WHERE id = \(conversation)")
                    .collect().first?.decode(UUID.self)
            )
            // A synchronous chat whose answer never came, and the upload's claimed job.
            let chat = try await store.startChat(userID: owner, conversationID: conversation, text: "hello?", newTitle: "t")
            _ = try await store.claimJobs(workerID: "w", limit: 1, lease: .seconds(60))
            try await store.database.client.query(
                "UPDATE messages SET updated_at = now() - interval '10 minutes' WHERE conversation_id = \(conversation)"
            )

            #expect(try await store.failAbandonedChats(olderThan: .seconds(300)) == 1)
            let failed = try #require(try await store.message(id: chat.message.id))
            #expect(failed.status == .failed)
            #expect(failed.error?.contains("interrupted") == true)
            #expect(try await store.message(id: enqueued[0].messageID)?.status == .processing, "uploads belong to the queue")
            #expect(try await store.failAbandonedChats(olderThan: .seconds(300)) == 0)
        }
    }
}
