import Foundation
import Synchronization
import ScribePostgres
import ScribeQueue
import ScribeTestSupport
import Testing

/// The queue on its own, with jobs that carry nothing of Scribe's: claims
/// never overlap, a job completes only under the lease that claimed it, and
/// a worker whose lease was taken over writes nothing.
@Suite struct JobQueueTests {
    struct Args: Codable { var n: Int }

    static func withQueue(_ body: @Sendable (JobQueue, Database) async throws -> Void) async throws {
        try await Database.withRunning(try await TestDatabase.createMigrated(), options: TestDatabase.patientOptions, logger: TestDatabase.logger) { database in
            try await body(JobQueue(database: database, logger: TestDatabase.logger), database)
        }
    }

    static func enqueue(_ count: Int, kind: String, on queue: JobQueue, _ database: Database) async throws {
        try await database.transaction { connection in
            for n in 0..<count {
                try await queue.enqueue(try NewJob(kind: kind, queue: kind, args: Args(n: n), maxAttempts: 3), on: connection)
            }
        }
    }

    @Test func concurrentClaimsNeverTakeTheSameJob() async throws {
        try await Self.withQueue { queue, database in
            try await Self.enqueue(200, kind: "sum", on: queue, database)
            let claimed = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var mine: [UUID] = []
                        while case let jobs = try await queue.claim(queue: "sum", workerID: "w\(worker)", limit: 7, lease: .seconds(30)), !jobs.isEmpty {
                            mine += jobs.map(\.lease.jobID)
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(claimed.count == 200 && Set(claimed).count == 200)
        }
    }

    @Test func aJobEnqueuedNudgingWakesItsQueueAtTheCommitAndOnlyThen() async throws {
        try await Self.withQueue { queue, database in
            let heard = Mutex<[String]>([])
            let listening = Mutex(false)
            let listener = ChannelListener(database: database, channel: JobQueue.channel, logger: TestDatabase.logger) { event in
                switch event {
                case .listening: listening.withLock { $0 = true }
                case .notification(let payload): heard.withLock { $0.append(payload) }
                case .lost: break
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await listener.run() }
                try await waitUntil("the listener listens", timeout: .seconds(30)) { listening.withLock { $0 } }
                try await database.transaction { connection in
                    try await queue.enqueue(try NewJob(kind: "quiet", queue: "quiet", args: Args(n: 1), maxAttempts: 3), on: connection)
                    #expect(try await queue.enqueue(try NewJob(kind: "nudged", queue: "nudged", args: Args(n: 2), maxAttempts: 3), nudging: true, on: connection))
                    // Nothing is delivered before the commit.
                    try await Task.sleep(for: .milliseconds(200))
                    #expect(heard.withLock { $0 }.isEmpty)
                }
                try await waitUntil("the nudge is heard", timeout: .seconds(30)) { heard.withLock { $0 } == ["nudged"] }
                // One more, sent after: anything the first transaction sent came before it.
                try await database.transaction { connection in try await queue.notify(["after"], on: connection) }
                try await waitUntil("the last nudge is heard", timeout: .seconds(30)) { heard.withLock { $0 }.last == "after" }
                #expect(heard.withLock { $0 } == ["nudged", "after"], "a job enqueued without nudging sends nothing")
                group.cancelAll()
            }
        }
    }

    @Test func aUniqueKeyAllowsOneUnfinishedJobAtATime() async throws {
        try await Self.withQueue { queue, database in
            func enqueue(_ n: Int) async throws -> Bool {
                try await database.transaction { connection in
                    try await queue.enqueue(try NewJob(kind: "unique", queue: "unique", args: Args(n: n), maxAttempts: 3, uniqueKey: "the-one"), on: connection)
                }
            }
            #expect(try await enqueue(1))
            #expect(try await !enqueue(2), "one is waiting")
            let claimed = try #require(try await queue.claim(queue: "unique", workerID: "w", limit: 5, lease: .seconds(30)).first)
            #expect(try claimed.decodeArgs(Args.self).n == 1)
            #expect(try await !enqueue(3), "one is running")
            try await database.transaction { connection in try await queue.complete(claimed.lease, on: connection) }
            #expect(try await enqueue(4), "the first has finished")
            // Many at once: one gets in.
            let first = try #require(try await queue.claim(queue: "unique", workerID: "w", limit: 5, lease: .seconds(30)).first)
            try await database.transaction { connection in try await queue.complete(first.lease, on: connection) }
            let inserted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for n in 0..<8 { group.addTask { try await enqueue(10 + n) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(inserted == 1)
            // Jobs without a key are not limited.
            try await Self.enqueue(3, kind: "unique", on: queue, database)
            #expect(try await queue.claim(queue: "unique", workerID: "w", limit: 10, lease: .seconds(30)).count == 4)
        }
    }

    @Test func aJobCompletesOnlyUnderTheLeaseThatHoldsIt() async throws {
        try await Self.withQueue { queue, database in
            try await Self.enqueue(1, kind: "once", on: queue, database)
            let slow = try #require(try await queue.claim(queue: "once", workerID: "slow", limit: 1, lease: .milliseconds(100)).first)
            #expect(try slow.decodeArgs(Args.self).n == 0)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await queue.rescueExpiredLeases { _, _ in }.requeued == 1)
            let fast = try #require(try await queue.claim(queue: "once", workerID: "fast", limit: 1, lease: .seconds(30)).first)
            #expect(fast.lease.attempt == 2)
            await #expect(throws: QueueError.self) {
                try await database.transaction { connection in try await queue.complete(slow.lease, on: connection) }
            }
            try await database.transaction { connection in try await queue.complete(fast.lease, on: connection) }
            let record = try #require(try await queue.jobs(ids: [fast.lease.jobID]).first)
            #expect(record.state == .succeeded)
        }
    }
}
