import Foundation
import Logging
import NIOCore
import PostgresNIO
import ScribeChat
import ScribeLLM
import ScribeDocuments
import ScribeOCR
import ScribeQueue
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import ScribeWorker
import ServiceLifecycle
import Testing

/// Upgrading a live database in place: jobs written by the version before
/// fair turns and stages (sql/005), some queued, one checkpointed, one
/// running under an old worker's lease, one finished, are ranked (sql/006),
/// moved into uploads and stage jobs (sql/007), and then run to exactly one
/// answer each by a new worker.
@Suite struct UpgradeTests {
    /// An old-shape upload job and its user message, written with the statements of sql/005.
    struct OldJob {
        var id = UUID.v7()
        var messageID = UUID.v7()
        var user: UUID
        var conversation: UUID
        var state = "available"
        var attempt = 0
        var checkpoint: String?
        var position = 0
    }

    static func insert(_ job: OldJob, payload: [UInt8], on client: PostgresClient) async throws {
        let status =
            switch job.state {
            case "running": "processing"
            case "succeeded": "done"
            default: "queued"
            }
        let stage: String? = job.state == "succeeded" ? nil : (job.checkpoint == nil ? "ocr" : "llm")
        try await client.query(
            """
            INSERT INTO messages (id, conversation_id, role, content, status, stage, attachments, document_text)
            VALUES (\(job.messageID), \(job.conversation), 'user', '', \(status), \(stage),
                    '[{"filename": "page.png", "content_type": "image/png", "size": 1}]', \(job.checkpoint))
            """
        )
        if job.state == "succeeded" {
            try await client.query(
                "INSERT INTO messages (id, conversation_id, role, content, status, reply_to) VALUES (\(UUID.v7()), \(job.conversation), 'assistant', 'old answer', 'done', \(job.messageID))"
            )
        }
        try await client.query(
            """
            INSERT INTO jobs (id, kind, state, attempt, payload, filename, content_type, size, user_id, conversation_id, message_id,
                              request_position, ocr_text, stage, locked_by, locked_until, started_at, finished_at)
            VALUES (\(job.id), 'process_upload', \(job.state), \(job.attempt), \(ByteBuffer(bytes: payload)), 'page.png', 'image/png',
                    \(payload.count), \(job.user), \(job.conversation), \(job.messageID), \(job.position), \(job.checkpoint), \(stage),
                    CASE WHEN \(job.state) = 'running' THEN 'old-worker' END,
                    CASE WHEN \(job.state) = 'running' THEN now() + interval '30 seconds' END,
                    CASE WHEN \(job.attempt) > 0 THEN now() END,
                    CASE WHEN \(job.state) = 'succeeded' THEN now() END)
            """
        )
    }

    static func count(_ sql: String, _ client: PostgresClient) async throws -> Int {
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return value }
        return -1
    }

    @Test func jobsQueuedRunningAndFinishedAtTheUpgradeEachEndWithOneAnswer() async throws {
        let (_, url) = try await TestDatabase.createEmpty()
        let migrations = try Migrator.migrations(in: TestDatabase.migrationsDirectory)
        let old = migrations.filter { $0.version < "006" }
        #expect(migrations.contains { $0.version.hasPrefix("007") }, "sql/007 exists")
        let page = try Fixtures.bytes("mixed_lowres.png")

        // The database as the old version left it, mid-work.
        let jobs: [OldJob] = try await PostgresClient.withRunning(url.configuration, logger: TestDatabase.logger) { client in
            try await Migrator(client: client, logger: TestDatabase.logger).apply(old)
            var ids: [UUID] = []
            for _ in 0..<3 {
                let user = UUID.v7()
                let conversation = UUID.v7()
                try await client.query("INSERT INTO users (id, email, password_hash) VALUES (\(user), \(user.uuidString + "@example.com"), 'x')")
                try await client.query("INSERT INTO conversations (id, user_id, title) VALUES (\(conversation), \(user), 't')")
                ids += [user, conversation]
            }
            let (busy, busyChat, lone, loneChat, done, doneChat) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5])
            let jobs = [
                OldJob(user: busy, conversation: busyChat, state: "running", attempt: 1, position: 0),
                OldJob(user: busy, conversation: busyChat, position: 1),
                OldJob(user: busy, conversation: busyChat, position: 2),
                // Read before an LLM failure: it keeps its text and goes straight to the answer.
                OldJob(user: busy, conversation: busyChat, attempt: 1, checkpoint: "Checkpointed text of the invoice.", position: 3),
                OldJob(user: lone, conversation: loneChat),
                OldJob(user: done, conversation: doneChat, state: "succeeded", attempt: 1, checkpoint: "Already answered."),
            ]
            for job in jobs {
                try await Self.insert(job, payload: job.checkpoint == nil ? page : Array("text".utf8), on: client)
            }
            try await client.query("UPDATE jobs SET payload = NULL WHERE state = 'succeeded'")
            return jobs
        }
        let (running, checkpointed, lone, finished) = (jobs[0], jobs[3], jobs[4], jobs[5])

        try await PostgresClient.withRunning(url.configuration, logger: TestDatabase.logger) { client in
            try await Migrator(client: client, logger: TestDatabase.logger).apply(migrations)

            // Every upload kept its id, its bytes and its message; each job is the stage it had reached.
            #expect(try await Self.count("SELECT count(*) FROM uploads", client) == jobs.count)
            #expect(try await Self.count("SELECT count(*) FROM uploads u JOIN jobs j ON j.id = u.id AND (j.args->>'message_id')::uuid = u.message_id", client) == jobs.count)
            #expect(try await Self.count("SELECT count(*) FROM jobs WHERE kind = 'ocr' AND queue = 'ocr'", client) == 4)
            #expect(try await Self.count("SELECT count(*) FROM jobs WHERE kind = 'answer' AND queue = 'answer' AND id = '\(checkpointed.id)'", client) == 1)
            #expect(try await Self.count("SELECT count(*) FROM jobs WHERE state = 'running'", client) == 0, "running jobs are handed back")
            #expect(try await Self.count("SELECT attempt FROM jobs WHERE id = '\(running.id)'", client) == 0, "without spending an attempt")
            #expect(try await Self.count("SELECT count(*) FROM messages WHERE id = '\(running.messageID)' AND status = 'queued'", client) == 1)
            #expect(try await Self.count("SELECT fair_rank FROM jobs WHERE id = '\(lone.id)'", client) == 1)
            #expect(try await Self.count("SELECT fair_rank FROM jobs WHERE id = '\(jobs[2].id)'", client) == 3)
            #expect(try await Self.count("SELECT count(*) FROM uploads WHERE id = '\(finished.id)' AND answered_at IS NOT NULL", client) == 1)

            // The old worker still holding the running job can no longer write its outcome.
            await #expect(throws: (any Error).self) {
                try await client.query(
                    "UPDATE jobs SET state = 'succeeded', payload = NULL WHERE id = \(running.id) AND locked_by = 'old-worker'"
                )
            }
        }

        // A new worker runs what was in flight: one answer per file, nothing lost.
        let ocr = OCRConfiguration(languages: "eng+rus", engineCount: 1)
        let pool = try OCREnginePool(configuration: ocr, logger: TestDatabase.logger)
        let database = Database(url: url, options: TestDatabase.options, logger: TestDatabase.logger)
        let stores = Stores(database: database, logger: TestDatabase.logger)
        let responder = ChatResponder(messages: stores.messages, passages: stores.passages, provider: ExtractiveProvider(), systemPrompt: "", budget: ContextBudget(maxMessages: 5, maxTokens: 4000))
        let worker = WorkerServices.make(
            configuration: fastQueue,
            stores: stores,
            reader: DocumentReader(pool: pool, configuration: ocr),
            responder: responder,
            logger: TestDatabase.logger
        )
        let group = ServiceGroup(configuration: .init(services: [database] + worker, logger: TestDatabase.logger))
        let drained: Bool
        do {
            drained = try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let deadline = ContinuousClock.now + .seconds(90)
                var drained = false
                while ContinuousClock.now < deadline {
                    let unfinished = try await Self.count("SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded', 'failed')", database.client)
                    if unfinished == 0 { drained = true; break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return drained
            }
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
        #expect(drained)

        try await PostgresClient.withRunning(url.configuration, logger: TestDatabase.logger) { (client: PostgresClient) async throws in
            #expect(try await Self.count("SELECT count(*) FROM jobs WHERE state <> 'succeeded'", client) == 0)
            #expect(try await Self.count("SELECT count(*) FROM messages WHERE role = 'user' AND status <> 'done'", client) == 0)
            #expect(
                try await Self.count(
                    "SELECT count(*) FROM messages u WHERE u.role = 'user' AND (SELECT count(*) FROM messages a WHERE a.reply_to = u.id) <> 1",
                    client
                ) == 0
            )
            #expect(try await Self.count("SELECT count(*) FROM messages WHERE reply_to = '\(finished.messageID)' AND content = 'old answer'", client) == 1)
            #expect(try await Self.count("SELECT count(*) FROM messages WHERE id = '\(checkpointed.messageID)' AND document_text LIKE 'Checkpointed%'", client) == 1)
            #expect(try await Self.count("SELECT count(*) FROM uploads WHERE answered_at IS NULL", client) == 0)
        }
    }
}
