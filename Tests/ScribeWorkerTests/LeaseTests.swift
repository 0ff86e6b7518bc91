import Foundation
import NIOCore
import PostgresNIO
import ScribeChat
import ScribeLLM
import ScribeDocuments
import ScribeOCR
import ScribeQueue
import ScribePostgres
import ScribeStore
import ScribeFlows
import ScribeTestSupport
@testable import ScribeWorker
import Testing

/// The queue's guarantees and the stages' lease-guarded writes, checked
/// statement by statement against Postgres.
@Suite struct LeaseTests {
    /// A user, a conversation and `count` queued uploads on a fresh database:
    /// text files (straight to the `answer` stage), or page images (`ocr` first).
    static func withQueuedJobs(
        _ count: Int,
        images: Bool = false,
        maxAttempts: Int = 5,
        _ body: @Sendable (Stores, [EnqueuedUpload]) async throws -> Void
    ) async throws {
        let database = try await TestDatabase.createMigrated()
        try await Database.withRunning(database, options: TestDatabase.patientOptions, logger: TestDatabase.logger) { database in
            let stores = Stores(database: database, logger: TestDatabase.logger)
            let user = try await stores.users.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x", origin: .commandLine)
            let conversation = try await stores.conversations.createConversation(userID: user.id, title: "t")
            let files = (0..<count).map {
                images
                    ? NewUpload(filename: "f\($0).png", contentType: "image/png", bytes: ByteBuffer(bytes: [0x89, 0x50, 0x4E, 0x47]))
                    : NewUpload(filename: "f\($0).txt", contentType: "text/plain", bytes: ByteBuffer(string: "file \($0)"))
            }
            let enqueued = try await stores.files.enqueue(
                userID: user.id, conversationID: conversation.id, caption: nil, files: files, idempotencyKey: nil, maxAttempts: maxAttempts
            )
            try await body(stores, enqueued)
        }
    }

    static func answers(to messageID: UUID, _ stores: Stores) async throws -> Int {
        try await count("SELECT count(*) FROM messages WHERE reply_to = '\(messageID)'", stores)
    }

    static func count(_ sql: String, _ stores: Stores) async throws -> Int {
        for try await value in try await stores.database.client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return value }
        return -1
    }

    static func answerStage(_ stores: Stores) -> AnswerStage {
        let responder = ChatResponder(messages: stores.messages, passages: stores.passages, provider: ExtractiveProvider(), systemPrompt: "", budget: ContextBudget(maxMessages: 5, maxTokens: 1000))
        return AnswerStage(messages: stores.messages, uploads: stores.uploads, queue: stores.queue, responder: responder, dropPayloadOnSuccess: true)
    }

    /// What the workers' transitions run: the stage handlers' own hook.
    static func hook(_ stores: Stores) -> JobQueue.TransitionHook {
        let stage = answerStage(stores)
        return { transitions, connection in try await stage.jobsChanged(transitions, on: connection) }
    }

    @Test func aSlowWorkerCannotCompleteAJobItsLeaseLost() async throws {
        try await Self.withQueuedJobs(1) { stores, enqueued in
            let queue = stores.queue
            let slow = try #require(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "slow", limit: 1, lease: .milliseconds(200)).first)
            try await Task.sleep(for: .milliseconds(400))
            let rescued = try await queue.rescueExpiredLeases(then: Self.hook(stores))
            #expect(rescued.requeued == 1)
            let fast = try #require(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "fast", limit: 1, lease: .seconds(30)).first)
            #expect(fast.lease.attempt == 2)

            let stage = Self.answerStage(stores)
            let messageID = try #require(enqueued.first?.messageID)
            let question = try #require(try await stores.messages.message(id: messageID))
            // Every write of the first, slow worker is refused…
            await #expect(throws: QueueError.self) {
                try await stage.record(slow.lease, question: question, uploadID: enqueued[0].uploadID, answer: "late answer", metadata: .init())
            }
            await #expect(throws: QueueError.self) {
                try await queue.recordFailure(slow.lease, error: .retryable("e", userMessage: "e"), delay: .zero, then: Self.hook(stores))
            }
            // …even a worker that reuses its id, because the attempt differs.
            let sameWorkerOldAttempt = JobLease(jobID: fast.lease.jobID, workerID: "fast", attempt: 1)
            await #expect(throws: QueueError.self) {
                try await stage.record(sameWorkerOldAttempt, question: question, uploadID: enqueued[0].uploadID, answer: "stale", metadata: .init())
            }
            #expect(try await Self.answers(to: messageID, stores) == 0, "a refused write leaves nothing")

            try await stage.record(fast.lease, question: question, uploadID: enqueued[0].uploadID, answer: "the answer", metadata: .init())
            #expect(try await Self.answers(to: messageID, stores) == 1)
            #expect(try await stores.messages.message(id: messageID)?.status == .done)
            #expect(try await stores.uploads.payload(ofUpload: enqueued[0].uploadID) == nil, "bytes dropped on success")
        }
    }

    @Test func theOCRStageCheckpointsAndEnqueuesTheAnswerOnlyUnderItsLease() async throws {
        try await Self.withQueuedJobs(1, images: true) { stores, enqueued in
            try await Self.checkpointUnderLease(stores, enqueued)
        }
    }

    static func record(_ document: RecognisedDocument, _ job: ClaimedJob, _ upload: UploadRecord, _ args: UploadJobArgs, _ stores: Stores) async throws {
        try await OCRStage.record(
            text: document.text, pages: document.pages.map(AttachmentPage.init), passages: NewPassage.split(document), job: job,
            upload: upload, args: args, stores: (stores.uploads, stores.passages), queue: stores.queue
        )
    }

    static func checkpointUnderLease(_ stores: Stores, _ enqueued: [EnqueuedUpload]) async throws {
        let queue = stores.queue
        #expect(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "w", limit: 1, lease: .seconds(30)).isEmpty, "an image starts at ocr")
        let slow = try #require(try await queue.claim(queue: StageJobKind.ocr.queue, workerID: "slow", limit: 1, lease: .milliseconds(200)).first)
        try await Task.sleep(for: .milliseconds(400))
        _ = try await queue.rescueExpiredLeases(then: Self.hook(stores))
        let fast = try #require(try await queue.claim(queue: StageJobKind.ocr.queue, workerID: "fast", limit: 1, lease: .seconds(30)).first)

        let upload = try #require(try await stores.uploads.upload(id: enqueued[0].uploadID))
        let args = try slow.decodeArgs(UploadJobArgs.self)
        let document = RecognisedDocument(text: "recognised", pages: [PageReading(number: 1, source: .ocr)])
        await #expect(throws: QueueError.self) { try await Self.record(document, slow, upload, args, stores) }
        #expect(try await Self.count("SELECT count(*) FROM jobs WHERE kind = 'answer'", stores) == 0, "no answer job from a lost lease")
        #expect(try await stores.messages.message(id: enqueued[0].messageID)?.documentText == nil, "no checkpoint from a lost lease")

        try await Self.record(document, fast, upload, args, stores)
        let answer = try #require(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "w", limit: 1, lease: .seconds(30)).first)
        #expect(try answer.decodeArgs(UploadJobArgs.self).uploadID == upload.id)
        #expect(try await stores.uploads.upload(id: upload.id)?.answerJobID == answer.lease.jobID)
        let message = try #require(try await stores.messages.message(id: enqueued[0].messageID))
        #expect(message.documentText == "recognised")
        #expect(message.stage == .llm)
        #expect(message.attachments.first?.pages == 1)
    }

    @Test func aJobThatKeepsKillingWorkersEndsFailed() async throws {
        try await Self.withQueuedJobs(1, maxAttempts: 2) { stores, enqueued in
            let queue = stores.queue
            for _ in 0..<2 {
                #expect(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "doomed", limit: 1, lease: .milliseconds(50)).count == 1)
                try await Task.sleep(for: .milliseconds(120))
                _ = try await queue.rescueExpiredLeases(then: Self.hook(stores))
            }
            #expect(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "next", limit: 1, lease: .seconds(30)).isEmpty)
            let messageID = try #require(enqueued.first?.messageID)
            let message = try #require(try await stores.messages.message(id: messageID))
            #expect(message.status == .failed)
            #expect(message.error?.contains("2 times") == true)
        }
    }

    @Test func handingBackDoesNotSpendAnAttempt() async throws {
        try await Self.withQueuedJobs(2) { stores, enqueued in
            let queue = stores.queue
            #expect(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "deploying", limit: 2, lease: .seconds(30)).count == 2)
            try await stores.uploads.startStage(.llm, messageID: enqueued[0].messageID)
            #expect(try await queue.handBack(workerID: "deploying", then: Self.hook(stores)) == 2)
            #expect(try await stores.messages.message(id: enqueued[0].messageID)?.status == .queued, "its message waits again")
            let again = try await queue.claim(queue: StageJobKind.answer.queue, workerID: "next", limit: 2, lease: .seconds(30))
            #expect(again.map(\.lease.attempt) == [1, 1])
        }
    }

    @Test func concurrentClaimsNeverShareAJob() async throws {
        try await Self.withQueuedJobs(40) { stores, _ in
            let queue = stores.queue
            let claims = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        try await queue.claim(queue: StageJobKind.answer.queue, workerID: "w\(worker)", limit: 10, lease: .seconds(30)).map(\.lease.jobID)
                    }
                }
                return try await group.reduce(into: [UUID]()) { $0 += $1 }
            }
            #expect(claims.count == 40)
            #expect(Set(claims).count == 40)
        }
    }

    @Test func retriesWaitTheirBackoffAndKeepTheCheckpoint() async throws {
        try await Self.withQueuedJobs(1) { stores, enqueued in
            let queue = stores.queue
            let first = try #require(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "w", limit: 1, lease: .seconds(30)).first)
            let failure = JobError.retryable("llm 503", userMessage: "busy")
            let beforeFailure = Date()
            // 10 s, not 3: on a loaded two-core CI machine the check just below once came after a 3 s backoff had passed.
            #expect(try await queue.recordFailure(first.lease, error: failure, delay: .seconds(10), then: Self.hook(stores)) == .available)
            let afterFailure = Date()
            #expect(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "w", limit: 1, lease: .seconds(30)).isEmpty, "not before run_at")
            let runAt = try #require(try await queue.jobs(ids: [first.lease.jobID]).first?.runAt)
            // The backoff counts from the failure's own statement, however long the checks around it take.
            #expect(runAt.timeIntervalSince(beforeFailure) > 9.9, "run_at is the backoff away: \(runAt) after \(beforeFailure)")
            #expect(runAt.timeIntervalSince(afterFailure) < 10.1, "run_at is the backoff away: \(runAt) after \(afterFailure)")
            try await Task.sleep(for: .seconds(max(0, runAt.timeIntervalSinceNow) + 0.2))
            let second = try #require(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "w", limit: 1, lease: .seconds(30)).first)
            #expect(second.lease.attempt == 2)
            let message = try #require(try await stores.messages.message(id: enqueued[0].messageID))
            #expect(message.status == .queued)
            #expect(message.stage == .llm)
            #expect(message.documentText == "file 0", "a text file's text is its checkpoint")
            let job = try #require(try await queue.jobs(ids: [second.lease.jobID]).first)
            #expect(job.errors.map(\.error) == ["llm 503"])
        }
    }
}

@Suite struct AbandonedChatTests {
    @Test func aChatLeftProcessingIsFailedAndUploadsAreLeftToTheQueue() async throws {
        try await LeaseTests.withQueuedJobs(1) { stores, enqueued in
            let user = try #require(try await stores.messages.message(id: enqueued[0].messageID))
            let conversation = user.conversationID
            let owner = try #require(
                try await stores.database.client.query("SELECT user_id FROM conversations WHERE id = \(conversation)")
                    .collect().first?.decode(UUID.self)
            )
            // A synchronous chat whose answer never came, and the upload's claimed job.
            let chat = try await stores.messages.startChat(userID: owner, conversationID: conversation, text: "hello?", newTitle: "t")
            _ = try await stores.queue.claim(queue: StageJobKind.answer.queue, workerID: "w", limit: 1, lease: .seconds(60))
            try await stores.uploads.startStage(.llm, messageID: enqueued[0].messageID)
            try await stores.database.client.query(
                "UPDATE messages SET updated_at = now() - interval '10 minutes' WHERE conversation_id = \(conversation)"
            )

            #expect(try await stores.messages.failAbandonedChats(olderThan: .seconds(300)) == 1)
            let failed = try #require(try await stores.messages.message(id: chat.message.id))
            #expect(failed.status == .failed)
            #expect(failed.error?.contains("interrupted") == true)
            #expect(try await stores.messages.message(id: enqueued[0].messageID)?.status == .processing, "uploads belong to the queue")
            #expect(try await stores.messages.failAbandonedChats(olderThan: .seconds(300)) == 0)
        }
    }
}
