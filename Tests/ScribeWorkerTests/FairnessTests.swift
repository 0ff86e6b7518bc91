import Foundation
import NIOCore
import PostgresNIO
import ScribeQueue
import ScribePostgres
import ScribeStore
import ScribeFlows
import ScribeTestSupport
@testable import ScribeWorker
import Testing

/// Fair turns between users sharing a queue (sql/006), against Postgres.
@Suite struct FairnessTests {
    /// The upload a claimed stage job works on.
    static func upload(of job: ClaimedJob) throws -> UUID { try job.decodeArgs(UploadJobArgs.self).uploadID }

    static func files(_ count: Int, _ prefix: String) -> [NewUpload] {
        (0..<count).map { NewUpload(filename: "\(prefix)\($0).txt", contentType: "text/plain", bytes: ByteBuffer(string: "file \($0)")) }
    }

    @Test func aLoneUsersFileIsClaimedBeforeABusyUsersBacklog() async throws {
        let url = try await TestDatabase.createMigrated()
        try await Database.withRunning(url, options: TestDatabase.options, logger: TestDatabase.logger) { database in
            let stores = Stores(database: database, logger: TestDatabase.logger)
            let busy = try await stores.users.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x", origin: .commandLine)
            let lone = try await stores.users.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x", origin: .commandLine)
            let busyChat = try await stores.conversations.createConversation(userID: busy.id, title: "backlog")
            let loneChat = try await stores.conversations.createConversation(userID: lone.id, title: "one file")
            var backlog: [EnqueuedUpload] = []
            for request in 0..<5 {
                backlog += try await stores.files.enqueue(
                    userID: busy.id, conversationID: busyChat.id, caption: nil, files: Self.files(20, "r\(request)-"),
                    idempotencyKey: nil, maxAttempts: 5
                )
            }
            // One of the busy user's files is running already when the lone file arrives.
            let queue = stores.queue
            let first = try #require(try await queue.claim(queue: StageJobKind.answer.queue, workerID: "w", limit: 1, lease: .seconds(30)).first)
            #expect(try Self.upload(of: first) == backlog[0].uploadID)
            let single = try await stores.files.enqueue(
                userID: lone.id, conversationID: loneChat.id, caption: nil, files: Self.files(1, "lone"), idempotencyKey: nil, maxAttempts: 5
            )

            var order: [UUID] = []
            while let job = try await queue.claim(queue: StageJobKind.answer.queue, workerID: "w", limit: 1, lease: .seconds(30)).first {
                order.append(try Self.upload(of: job))
            }
            // The lone file is next: it waits for none of the busy user's 99 queued files
            // (only for the one already running)...
            #expect(order.firstIndex(of: single[0].uploadID) == 0, "claimed at \(order.firstIndex(of: single[0].uploadID).map(String.init) ?? "never")")
            // ...and the busy user's files still run in the order they were uploaded.
            #expect(order.filter { $0 != single[0].uploadID } == backlog.dropFirst().map(\.uploadID))
        }
    }
}
