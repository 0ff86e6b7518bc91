import Foundation
import NIOCore
import PostgresNIO
import ScribeStore
import ScribeTestSupport
import Testing

/// Fair turns between users sharing the queue (sql/006), against Postgres.
@Suite struct FairnessTests {
    static func files(_ count: Int, _ prefix: String) -> [NewUpload] {
        (0..<count).map { NewUpload(filename: "\(prefix)\($0).txt", contentType: "text/plain", bytes: ByteBuffer(string: "file \($0)")) }
    }

    @Test func aLoneUsersFileIsClaimedBeforeABusyUsersBacklog() async throws {
        let url = try await TestDatabase.createMigrated()
        try await Database.withRunning(url, options: TestDatabase.options, logger: TestDatabase.logger) { database in
            let store = Store(database: database, logger: TestDatabase.logger)
            let busy = try await store.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x")
            let lone = try await store.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x")
            let busyChat = try await store.createConversation(userID: busy.id, title: "backlog")
            let loneChat = try await store.createConversation(userID: lone.id, title: "one file")
            var backlog: [EnqueuedUpload] = []
            for request in 0..<5 {
                backlog += try await store.enqueueUploads(
                    userID: busy.id, conversationID: busyChat.id, caption: nil, files: Self.files(20, "r\(request)-"),
                    idempotencyKey: nil, maxAttempts: 5
                )
            }
            // One of the busy user's files is running already when the lone file arrives.
            let first = try #require(try await store.claimJobs(workerID: "w", limit: 1, lease: .seconds(30)).first)
            #expect(first.lease.jobID == backlog[0].jobID)
            let single = try await store.enqueueUploads(
                userID: lone.id, conversationID: loneChat.id, caption: nil, files: Self.files(1, "lone"), idempotencyKey: nil, maxAttempts: 5
            )

            var order: [UUID] = []
            while let job = try await store.claimJobs(workerID: "w", limit: 1, lease: .seconds(30)).first {
                order.append(job.lease.jobID)
            }
            // The lone file is next: it waits for none of the busy user's 99 queued files
            // (only for the one already running)...
            #expect(order.firstIndex(of: single[0].jobID) == 0, "claimed at \(order.firstIndex(of: single[0].jobID).map(String.init) ?? "never")")
            // ...and the busy user's files still run in the order they were uploaded.
            #expect(order.filter { $0 != single[0].jobID } == backlog.dropFirst().map(\.jobID))
        }
    }

    @Test func theUpgradeRanksJobsQueuedOrRunningAtThatMoment() async throws {
        let (_, url) = try await TestDatabase.createEmpty()
        let migrations = try Migrator.migrations(in: TestDatabase.migrationsDirectory)
        let before = migrations.filter { $0.version < "006" }
        #expect(before.count < migrations.count, "sql/006 exists")
        try await PostgresClient.withRunning(url.configuration, logger: TestDatabase.logger) { client in
            try await Migrator(client: client, logger: TestDatabase.logger).apply(before)
        }
        let (busyJobs, loneJob, finishedJob): ([UUID], UUID, UUID) = try await Database.withRunning(
            url, options: TestDatabase.options, logger: TestDatabase.logger
        ) { database in
            let store = Store(database: database, logger: TestDatabase.logger)
            let busy = try await store.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x")
            let lone = try await store.createUser(email: "\(UUID())@example.com", username: nil, passwordHash: "x")
            let busyChat = try await store.createConversation(userID: busy.id, title: "b")
            let loneChat = try await store.createConversation(userID: lone.id, title: "l")
            // Written with the old statement shape (no fairness columns yet): insert the rows directly.
            func insert(_ user: UUID, _ chat: UUID, state: String, position: Int) async throws -> UUID {
                let id = UUID.v7()
                try await database.client.query(
                    """
                    INSERT INTO jobs (id, kind, state, payload, filename, content_type, size, user_id, conversation_id, request_position,
                                      locked_by, locked_until)
                    VALUES (\(id), 'process_upload', \(state), '\\x00'::bytea, 'f.txt', 'text/plain', 1, \(user), \(chat), \(position),
                            CASE WHEN \(state) = 'running' THEN 'old-worker' END, CASE WHEN \(state) = 'running' THEN now() + interval '30 seconds' END)
                    """
                )
                return id
            }
            let finished = try await insert(busy.id, busyChat.id, state: "succeeded", position: 0)
            var busyIDs: [UUID] = [try await insert(busy.id, busyChat.id, state: "running", position: 0)]
            for position in 1..<6 { busyIDs.append(try await insert(busy.id, busyChat.id, state: "available", position: position)) }
            let loneID = try await insert(lone.id, loneChat.id, state: "available", position: 0)
            return (busyIDs, loneID, finished)
        }

        try await PostgresClient.withRunning(url.configuration, logger: TestDatabase.logger) { client in
            try await Migrator(client: client, logger: TestDatabase.logger).apply(migrations)
        }
        try await Database.withRunning(url, options: TestDatabase.options, logger: TestDatabase.logger) { database in
            var ranks: [UUID: Int] = [:]
            for try await (id, rank) in try await database.client.query("SELECT id, fair_rank FROM jobs").decode((UUID, Int).self) {
                ranks[id] = rank
            }
            #expect(busyJobs.map { ranks[$0] } == [1, 2, 3, 4, 5, 6])
            #expect(ranks[loneJob] == 1)
            #expect(ranks[finishedJob] == 0)
            // Nothing in flight was lost, and the running job is still running under its old lease.
            let store = Store(database: database, logger: TestDatabase.logger)
            var claimed: [UUID] = []
            while let job = try await store.claimJobs(workerID: "new", limit: 1, lease: .seconds(30)).first {
                claimed.append(job.lease.jobID)
            }
            #expect(claimed == [loneJob] + busyJobs.dropFirst())
        }
    }
}
