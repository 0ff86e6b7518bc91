import Foundation
import NIOCore
import PostgresNIO
import ScribeLLMTesting
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// Durability with real processes: `scribe worker` daemons killed with
/// SIGKILL, stopped with SIGTERM, and cut off by a Postgres restart. Every
/// job must end `succeeded` with exactly one answer.
@Suite(.serialized, .timeLimit(.minutes(5))) struct WorkerProcessTests {
    /// The environment of a worker process pointed at `databaseURL` and the fake LLM.
    static func workerEnvironment(databaseURL: String, llm: String, extra: [String: String] = [:]) -> [String: String] {
        [
            "DATABASE_URL": databaseURL,
            "LLM_BASE_URL": llm,
            "LLM_MODEL": "fake",
            "LLM_MAX_ATTEMPTS": "1",
            "LLM_TIMEOUT_MS": "10000",
            "WORKER_CONCURRENCY": "2",
            "OCR_ENGINES": "1",
            "LLM_CONCURRENCY": "4",
            "JOB_LEASE_SECONDS": "2",
            "JOB_MAX_ATTEMPTS": "25",
            "JOB_RETRY_BASE_MS": "50",
            "JOB_RETRY_MAX_SECONDS": "1",
            "WORKER_POLL_INTERVAL_MS": "250",
            "WORKER_RESCUE_INTERVAL_MS": "300",
            "WORKER_SHUTDOWN_GRACE_SECONDS": "10",
            "DATABASE_POOL_SIZE": "6",
            // Not what these tests are about, and a loaded test machine may be slow.
            "DATABASE_TIMEOUT_MS": "30000",
            "LOG_LEVEL": "notice",
            "OMP_THREAD_LIMIT": "1",
        ].merging(extra) { _, new in new }
    }

    static func startWorker(_ environment: [String: String], in processes: ChildProcesses) throws -> ChildProcess {
        try processes.scribe("worker", environment: environment, label: "worker")
    }

    /// Enqueues `count` uploads, ten files per request, like a busy API
    /// would: text files (the `answer` stage only), and every eighth a page
    /// image (the `ocr` stage, then `answer`).
    static func enqueue(_ count: Int, stores: Stores) async throws -> Int {
        let user = try await stores.users.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x", origin: .commandLine)
        let conversation = try await stores.conversations.createConversation(userID: user.id, title: "crash test")
        let page = try Fixtures.bytes("mixed_lowres.png")
        var enqueued = 0
        while enqueued < count {
            let batch = (enqueued..<min(enqueued + 10, count)).map {
                $0 % 8 == 3
                    ? NewUpload(filename: "page\($0).png", contentType: "image/png", bytes: ByteBuffer(bytes: page))
                    : NewUpload(filename: "page\($0).txt", contentType: "text/plain", bytes: ByteBuffer(string: "Page \($0) of the crash test."))
            }
            enqueued += try await stores.files.enqueue(
                userID: user.id, conversationID: conversation.id, caption: nil, files: batch, idempotencyKey: nil, maxAttempts: 25
            ).count
        }
        return enqueued
    }

    static func count(_ sql: String, _ client: PostgresClient) async throws -> Int {
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return value }
        return -1
    }

    static func unfinished(_ client: PostgresClient) async throws -> Int {
        try await count("SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded', 'failed', 'cancelled')", client)
    }

    /// The end state every durability test demands: every stage job
    /// succeeded, every file through both its stages, one answer each.
    static func expectEveryJobAnsweredExactlyOnce(_ jobs: Int, _ client: PostgresClient) async throws {
        #expect(try await count("SELECT count(*) FROM uploads", client) == jobs)
        // One job per stage a file went through: `answer`, and `ocr` before it for a picture.
        #expect(try await count("SELECT (SELECT count(*) FROM jobs) - (SELECT count(*) + count(ocr_job_id) FROM uploads)", client) == 0)
        #expect(try await count("SELECT count(*) FROM jobs WHERE state <> 'succeeded'", client) == 0)
        #expect(try await count("SELECT count(*) FROM uploads WHERE answered_at IS NULL OR payload IS NOT NULL", client) == 0)
        #expect(try await count("SELECT count(*) FROM messages WHERE role = 'user' AND status <> 'done'", client) == 0)
        #expect(try await count("SELECT count(*) FROM messages WHERE role = 'assistant'", client) == jobs)
        #expect(
            try await count(
                """
                SELECT count(*) FROM messages u WHERE u.role = 'user'
                AND (SELECT count(*) FROM messages a WHERE a.reply_to = u.id) <> 1
                """,
                client
            ) == 0
        )
    }

    static func waitUntilDrained(_ client: PostgresClient, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await unfinished(client) == 0 { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    @Test func sigkilledWorkersLoseNothingAndAnswerEachJobOnce() async throws {
        let (url, database) = try await TestDatabase.createMigratedURL()
        try await FakeChatCompletionsServer.withRunning(default: .delay(.milliseconds(300), then: .echo)) { llm in
            try await Database.withRunning(database, options: TestDatabase.options, logger: TestDatabase.logger) { database in
                let stores = Stores(database: database, logger: TestDatabase.logger)
                let client = database.client
                let jobs = try await Self.enqueue(240, stores: stores)
                let environment = Self.workerEnvironment(databaseURL: url, llm: llm.baseURL)
                try await withChildProcesses { processes in
                    var workers = try (0..<3).map { _ in try Self.startWorker(environment, in: processes) }
                    var kills = 0
                    let started = ContinuousClock.now
                    while ContinuousClock.now - started < .seconds(180), try await Self.unfinished(client) > 0 {
                        try await Task.sleep(for: .milliseconds(Int.random(in: 700...1300)))
                        let victim = Int.random(in: 0..<workers.count)
                        workers[victim].send(SIGKILL)
                        await workers[victim].waitForExit()
                        kills += 1
                        workers[victim] = try Self.startWorker(environment, in: processes)
                    }
                    let drained = ContinuousClock.now - started
                    for worker in workers { await worker.stop() }

                    let attempts = try await Self.count("SELECT coalesce(sum(attempt), 0)::int8 FROM jobs", client)
                    print("crash test: \(jobs) jobs, 3 workers, \(kills) SIGKILLs, drained in \(drained), \(attempts) attempts in all")
                    #expect(kills >= 3, "the test must actually kill workers")
                    #expect(try await Self.unfinished(client) == 0, "last worker log:\n\(workers[0].logTail())")
                    try await Self.expectEveryJobAnsweredExactlyOnce(jobs, client)
                }
            }
        }
    }

    /// A deploy may stop a worker the moment it starts: SIGTERM while it is
    /// still loading its OCR engines ends it cleanly, not by the signal.
    @Test func aStopAskedForWhileStartingEndsTheWorkerCleanly() async throws {
        let (url, _) = try await TestDatabase.createMigratedURL()
        let environment = Self.workerEnvironment(databaseURL: url, llm: "http://127.0.0.1:9", extra: ["OCR_ENGINES": "2"])
        try await withChildProcesses { processes in
            for _ in 0..<3 {
                let worker = try Self.startWorker(environment, in: processes)
                try await waitUntil("the worker says it is starting", timeout: .seconds(60), every: .milliseconds(5)) {
                    worker.logTail().contains("starting")
                }
                worker.send(SIGTERM)
                let status = await worker.waitForExit(timeout: .seconds(30))
                #expect(status == 0, "a worker stopped while starting must exit cleanly:\n\(worker.logTail())")
            }
        }
    }

    @Test func sigtermDuringWorkHandsJobsBackAndFailsNone() async throws {
        let (url, database) = try await TestDatabase.createMigratedURL()
        try await FakeChatCompletionsServer.withRunning(default: .delay(.seconds(3), then: .echo)) { llm in
            try await Database.withRunning(database, options: TestDatabase.options, logger: TestDatabase.logger) { database in
                let stores = Stores(database: database, logger: TestDatabase.logger)
                let client = database.client
                let jobs = try await Self.enqueue(8, stores: stores)
                // No grace: running jobs are cancelled and handed back at once.
                let impatient = Self.workerEnvironment(databaseURL: url, llm: llm.baseURL, extra: ["WORKER_SHUTDOWN_GRACE_SECONDS": "0"])
                try await withChildProcesses { processes in
                    let workers = try (0..<2).map { _ in try Self.startWorker(impatient, in: processes) }
                    let deadline = ContinuousClock.now + .seconds(30)
                    // Both workers are running jobs (so both have started and will hand them back).
                    while try await Self.count("SELECT count(DISTINCT locked_by) FROM jobs WHERE state = 'running'", client) < 2,
                        ContinuousClock.now < deadline
                    {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    for worker in workers { worker.send(SIGTERM) }
                    for worker in workers {
                        let status = await worker.waitForExit(timeout: .seconds(20))
                        #expect(status == 0, "worker did not exit cleanly:\n\(worker.logTail())")
                    }
                    #expect(try await Self.count("SELECT count(*) FROM jobs WHERE state = 'running'", client) == 0, "handed back")
                    #expect(try await Self.count("SELECT count(*) FROM jobs WHERE state = 'failed'", client) == 0)
                    // (The page image's `ocr` job may have finished before the signal: only handed-back jobs count.)
                    #expect(try await Self.count("SELECT coalesce(max(attempt), 0)::int8 FROM jobs WHERE state <> 'succeeded'", client) == 0, "no attempt spent")

                    // A patient worker finishes what it started when asked to stop.
                    let patient = try Self.startWorker(Self.workerEnvironment(databaseURL: url, llm: llm.baseURL), in: processes)
                    while try await Self.count("SELECT count(*) FROM jobs WHERE state = 'running'", client) < 2, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    patient.send(SIGTERM)
                    #expect(await patient.waitForExit(timeout: .seconds(20)) == 0)
                    #expect(try await Self.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'", client) >= 2, "finished within the grace period")

                    let finisher = try Self.startWorker(Self.workerEnvironment(databaseURL: url, llm: llm.baseURL), in: processes)
                    #expect(try await Self.waitUntilDrained(client, timeout: .seconds(60)))
                    #expect(await finisher.stop() == 0)
                    try await Self.expectEveryJobAnsweredExactlyOnce(jobs, client)
                    #expect(try await Self.count("SELECT count(*) FROM jobs WHERE attempt <> 1", client) == 0)
                }
            }
        }
    }

    @Test func workersReconnectAfterPostgresRestarts() async throws {
        let server = try await TestPostgresServer()
        do {
            let configuration = try DatabaseURL(server.url)
            try await PostgresClient.withRunning(configuration, logger: TestDatabase.logger) { client in
                try await Migrator(client: client, logger: TestDatabase.logger).apply(Migrator.migrations(in: TestDatabase.migrationsDirectory))
            }
            try await FakeChatCompletionsServer.withRunning(default: .delay(.milliseconds(200), then: .echo)) { llm in
                let environment = Self.workerEnvironment(databaseURL: server.url, llm: llm.baseURL)
                try await withChildProcesses { processes in
                    let workers = try (0..<2).map { _ in try Self.startWorker(environment, in: processes) }
                    let jobs = try await Database.withRunning(configuration, options: TestDatabase.options, logger: TestDatabase.logger) { database in
                        try await Self.enqueue(60, stores: Stores(database: database, logger: TestDatabase.logger))
                    }
                    try await Task.sleep(for: .seconds(1))
                    try await server.stop()
                    try await Task.sleep(for: .seconds(2))
                    try await server.start()
                    try await PostgresClient.withRunning(configuration, logger: TestDatabase.logger) { client in
                        let drained = try await Self.waitUntilDrained(client, timeout: .seconds(90))
                        #expect(drained, "worker log:\n\(workers[0].logTail())")
                        for worker in workers {
                            // It must exit by itself: cleanly, or (if a database call hung
                            // through the restart) by the shutdown backstop, never needing SIGKILL.
                            let status = await worker.stop(grace: .seconds(60))
                            #expect(status != nil, "worker needed SIGKILL after the restart:\n\(worker.logTail())")
                        }
                        try await Self.expectEveryJobAnsweredExactlyOnce(jobs, client)
                    }
                }
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}
