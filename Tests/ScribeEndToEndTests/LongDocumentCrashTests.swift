import Foundation
import NIOCore
import PostgresNIO
import ScribeLLMTesting
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// A long scan read page by page by real `scribe worker` processes, one of
/// them SIGKILLed, or Postgres restarted, in the middle of the document: one
/// answer, every page's text exactly once and in page order, and no page
/// read more than twice. `scripts/chaos-pages` runs these in a loop.
@Suite(.serialized, .timeLimit(.minutes(5))) struct LongDocumentCrashTests {
    /// 12 scanned pages: the two-page scan six times over.
    static let copies = 6

    static func document() async throws -> (pdf: [UInt8], text: String) {
        let scan = try Fixtures.bytes("twopage_scan.pdf")
        let pdf = try await LongPDF.joined(Array(repeating: scan, count: copies))
        let text = Array(repeating: try Fixtures.expectedText(for: "twopage_scan.pdf"), count: copies).joined(separator: "\n\n")
        return (pdf, text)
    }

    static func enqueue(_ pdf: [UInt8], stores: Stores) async throws -> EnqueuedUpload {
        let user = try await stores.users.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x", origin: .commandLine)
        let conversation = try await stores.conversations.createConversation(userID: user.id, title: "long scan")
        let file = NewUpload(filename: "long.pdf", contentType: "application/pdf", bytes: ByteBuffer(bytes: pdf))
        return try #require(
            try await stores.files.enqueue(userID: user.id, conversationID: conversation.id, caption: nil, files: [file], idempotencyKey: nil, maxAttempts: 25)
                .first
        )
    }

    static func count(_ sql: String, _ client: PostgresClient) async throws -> Int {
        try await WorkerProcessTests.count(sql, client)
    }

    /// Waits until `sql` counts at least `least`; false when `timeout` passes first.
    static func wait(until sql: String, atLeast least: Int, _ client: PostgresClient, timeout: Duration = .seconds(60)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await count(sql, client) >= least { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// One answer, every page once and in order, no page read more than twice.
    static func expectReadOnceInOrder(_ upload: EnqueuedUpload, text expected: String, _ client: PostgresClient) async throws {
        let id = upload.uploadID
        #expect(try await count("SELECT count(*) FROM messages WHERE role = 'assistant' AND reply_to = '\(upload.messageID)'", client) == 1)
        #expect(try await count("SELECT count(*) FROM messages WHERE id = '\(upload.messageID)' AND status = 'done'", client) == 1)
        #expect(try await count("SELECT count(*) FROM upload_pages WHERE upload_id = '\(id)' AND read_at IS NOT NULL AND text <> ''", client) == copies * 2)
        #expect(try await count("SELECT count(*) FROM jobs WHERE kind = 'ocr_page' AND (args->>'upload_id')::uuid = '\(id)'", client) == copies * 2, "one job per page")
        let mostAttempts = try await count("SELECT max(attempt)::int8 FROM jobs WHERE kind = 'ocr_page' AND (args->>'upload_id')::uuid = '\(id)'", client)
        #expect(mostAttempts <= 2, "a page was read \(mostAttempts) times")
        #expect(try await count("SELECT count(*) FROM jobs WHERE state <> 'succeeded'", client) == 0)
        // Every page's passages indexed once, with its checkpoint, and counted once.
        #expect(try await count("SELECT count(DISTINCT page) FROM passages WHERE upload_id = '\(id)'", client) == copies * 2)
        let passages = try await count("SELECT count(*) FROM passages WHERE upload_id = '\(id)'", client)
        #expect(try await count("SELECT passage_count::int8 FROM uploads WHERE id = '\(id)'", client) == passages)
        var text = ""
        for try await document in try await client.query("SELECT document_text FROM messages WHERE id = \(upload.messageID)").decode(String.self) {
            text = document
        }
        let cer = characterErrorRate(expected: normaliseWhitespace(expected), actual: normaliseWhitespace(text))
        #expect(cer <= 0.02, "every page once, in order: CER \(cer)")
        let attempts = try await count("SELECT sum(attempt)::int8 FROM jobs WHERE kind = 'ocr_page' AND (args->>'upload_id')::uuid = '\(id)'", client)
        print("long document: \(copies * 2) pages, \(attempts) page attempts, CER \(String(format: "%.2f", cer * 100)) %")
    }

    @Test func aWorkerKilledMidDocumentCostsAtMostThePageItWasReading() async throws {
        let (pdf, expected) = try await Self.document()
        let (url, database) = try await TestDatabase.createMigratedURL()
        try await FakeChatCompletionsServer.withRunning(default: .echo) { llm in
            try await Database.withRunning(database, options: TestDatabase.options, logger: TestDatabase.logger) { database in
                let client = database.client
                let upload = try await Self.enqueue(pdf, stores: Stores(database: database, logger: TestDatabase.logger))
                let environment = WorkerProcessTests.workerEnvironment(databaseURL: url, llm: llm.baseURL)
                try await withChildProcesses { processes in
                    var workers = try (0..<2).map { _ in try WorkerProcessTests.startWorker(environment, in: processes) }
                    // Somewhere in the document: after 0 to 6 pages are read, a worker holding a reading job dies.
                    let readFirst = Int.random(in: 0...6)
                    #expect(try await Self.wait(until: "SELECT count(*) FROM upload_pages WHERE read_at IS NOT NULL", atLeast: readFirst, client))
                    #expect(try await Self.wait(until: "SELECT count(*) FROM jobs WHERE state = 'running' AND queue = 'ocr'", atLeast: 1, client))
                    let holder = try await client.query("SELECT locked_by FROM jobs WHERE state = 'running' AND queue = 'ocr' LIMIT 1").decode(String?.self)
                    var victim = 0
                    for try await lockedBy in holder {
                        // `host:pid:random`
                        if let pid = lockedBy?.split(separator: ":").dropFirst().first, let index = workers.firstIndex(where: { "\($0.pid)" == pid }) {
                            victim = index
                        }
                    }
                    workers[victim].send(SIGKILL)
                    await workers[victim].waitForExit()
                    workers[victim] = try WorkerProcessTests.startWorker(environment, in: processes)
                    #expect(
                        try await WorkerProcessTests.waitUntilDrained(client, timeout: .seconds(120)),
                        "worker log:\n\(workers[1 - victim].logTail())"
                    )
                    print("killed a worker after \(readFirst)+ pages")
                    for worker in workers { await worker.stop() }
                    try await Self.expectReadOnceInOrder(upload, text: expected, client)
                }
            }
        }
    }

    @Test func postgresRestartedMidDocumentLosesNoPage() async throws {
        let (pdf, expected) = try await Self.document()
        let server = try await TestPostgresServer()
        do {
            let configuration = try DatabaseURL(server.url)
            try await PostgresClient.withRunning(configuration, logger: TestDatabase.logger) { client in
                try await Migrator(client: client, logger: TestDatabase.logger).apply(Migrator.migrations(in: TestDatabase.migrationsDirectory))
            }
            try await FakeChatCompletionsServer.withRunning(default: .echo) { llm in
                let environment = WorkerProcessTests.workerEnvironment(databaseURL: server.url, llm: llm.baseURL)
                try await withChildProcesses { processes in
                    let workers = try (0..<2).map { _ in try WorkerProcessTests.startWorker(environment, in: processes) }
                    let upload = try await Database.withRunning(configuration, options: TestDatabase.options, logger: TestDatabase.logger) { database in
                        let upload = try await Self.enqueue(pdf, stores: Stores(database: database, logger: TestDatabase.logger))
                        #expect(try await Self.wait(until: "SELECT count(*) FROM upload_pages WHERE read_at IS NOT NULL", atLeast: 2, database.client))
                        return upload
                    }
                    try await server.stop()
                    try await Task.sleep(for: .seconds(1))
                    try await server.start()
                    try await PostgresClient.withRunning(configuration, logger: TestDatabase.logger) { client in
                        #expect(try await WorkerProcessTests.waitUntilDrained(client, timeout: .seconds(120)), "worker log:\n\(workers[0].logTail())")
                        for worker in workers { await worker.stop(grace: .seconds(60)) }
                        try await Self.expectReadOnceInOrder(upload, text: expected, client)
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
