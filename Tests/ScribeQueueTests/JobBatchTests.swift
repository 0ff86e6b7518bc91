import Foundation
import ScribePostgres
import ScribeQueue
import ScribeTestSupport
import Testing

/// Batches on their own, with jobs that carry nothing of Scribe's: the
/// completion job runs exactly once, only after every job of its batch has
/// finished, however each finished (completed, acknowledged, failed for good,
/// rescued past its attempts) and however many workers finish them at once.
@Suite struct JobBatchTests {
    typealias Args = JobQueueTests.Args

    static func batch(_ count: Int, queue name: String = "part", fairnessKey: String? = nil, maxAttempts: Int = 3) throws -> NewBatch {
        NewBatch(
            jobs: try (0..<count).map { try NewJob(kind: "part", queue: name, args: Args(n: $0), maxAttempts: maxAttempts, fairnessKey: fairnessKey) },
            completion: try NewJob(kind: "whole", queue: "whole", args: Args(n: count), maxAttempts: 3)
        )
    }

    static func enqueue(_ batch: NewBatch, _ queue: JobQueue, _ database: Database) async throws {
        try await database.transaction { connection in try await queue.enqueue(batch, on: connection) }
    }

    static func completionState(_ batch: NewBatch, _ queue: JobQueue) async throws -> JobState? {
        try await queue.jobs(ids: [batch.completion.id]).first?.state
    }

    @Test func theCompletionRunsOnlyOnceEveryJobHasFinished() async throws {
        try await JobQueueTests.withQueue { queue, database in
            let batch = try Self.batch(3)
            try await Self.enqueue(batch, queue, database)
            #expect(try await Self.completionState(batch, queue) == .pending)
            #expect(try await queue.claim(queue: "whole", workerID: "w", limit: 10, lease: .seconds(30)).isEmpty, "a pending job is never claimed")

            let parts = try await queue.claim(queue: "part", workerID: "w", limit: 10, lease: .seconds(30))
            #expect(parts.count == 3)
            try await database.transaction { connection in try await queue.complete(parts[0].lease, on: connection) }
            #expect(try await queue.acknowledge([parts[1].lease]) == 1)
            #expect(try await Self.completionState(batch, queue) == .pending, "one job is still running")
            #expect(try await queue.batch(id: batch.id)?.remaining == 1)

            try await queue.recordFailure(parts[2].lease, error: .permanent("unreadable", userMessage: "unreadable"), delay: .zero) { _, _ in }
            #expect(try await Self.completionState(batch, queue) == .available)
            let record = try #require(try await queue.batch(id: batch.id))
            #expect(record.total == 3 && record.remaining == 0 && record.succeeded == 2 && record.failed == 1 && record.finishedAt != nil)
            let completions = try await queue.claim(queue: "whole", workerID: "w", limit: 10, lease: .seconds(30))
            #expect(completions.map(\.lease.jobID) == [batch.completion.id])
        }
    }

    @Test func aRetriedJobDoesNotFinishItsBatch() async throws {
        try await JobQueueTests.withQueue { queue, database in
            let batch = try Self.batch(1, maxAttempts: 2)
            try await Self.enqueue(batch, queue, database)
            let first = try #require(try await queue.claim(queue: "part", workerID: "w", limit: 1, lease: .seconds(30)).first)
            #expect(try await queue.recordFailure(first.lease, error: .retryable("busy", userMessage: "busy"), delay: .zero) { _, _ in } == .available)
            #expect(try await Self.completionState(batch, queue) == .pending, "a job that will run again has not finished")
            let second = try #require(try await queue.claim(queue: "part", workerID: "w", limit: 1, lease: .milliseconds(50)).first)
            try await Task.sleep(for: .milliseconds(200))
            let rescued = try await queue.rescueExpiredLeases { _, _ in }
            #expect(rescued.failed == 1 && second.lease.attempt == 2)
            #expect(try await Self.completionState(batch, queue) == .available, "its attempts spent, it has finished: failed")
            #expect(try await queue.batch(id: batch.id)?.failed == 1)
        }
    }

    @Test func anEmptyBatchCompletesAtOnce() async throws {
        try await JobQueueTests.withQueue { queue, database in
            let batch = try Self.batch(0)
            try await Self.enqueue(batch, queue, database)
            #expect(try await Self.completionState(batch, queue) == .available)
        }
    }

    @Test func aRolledBackBatchLeavesNothing() async throws {
        struct Refused: Error {}
        try await JobQueueTests.withQueue { queue, database in
            let batch = try Self.batch(5)
            await #expect(throws: Refused.self) {
                try await database.transaction { connection in
                    try await queue.enqueue(batch, on: connection)
                    throw Refused()
                }
            }
            #expect(try await queue.batch(id: batch.id) == nil)
            #expect(try await queue.jobs(ids: batch.jobs.map(\.id) + [batch.completion.id]).isEmpty)
        }
    }

    /// Eight workers finish 200 jobs of two batches at once: each batch's
    /// completion is released exactly once, only when its own jobs are all done.
    @Test func concurrentFinishesReleaseEachCompletionOnce() async throws {
        try await JobQueueTests.withQueue { queue, database in
            let batches = [try Self.batch(120), try Self.batch(80)]
            for batch in batches { try await Self.enqueue(batch, queue, database) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        while case let jobs = try await queue.claim(queue: "part", workerID: "w\(worker)", limit: 3, lease: .seconds(30)), !jobs.isEmpty {
                            for job in jobs {
                                if job.lease.jobID.uuidString.hasSuffix("0") {
                                    try await queue.recordFailure(job.lease, error: .permanent("bad", userMessage: "bad"), delay: .zero) { _, _ in }
                                } else {
                                    try await database.transaction { connection in try await queue.complete(job.lease, on: connection) }
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            for batch in batches {
                let record = try #require(try await queue.batch(id: batch.id))
                #expect(record.remaining == 0 && record.succeeded + record.failed == batch.jobs.count)
            }
            let completions = try await queue.claim(queue: "whole", workerID: "w", limit: 10, lease: .seconds(30))
            #expect(Set(completions.map(\.lease.jobID)) == Set(batches.map(\.completion.id)))
        }
    }

    /// A batch's jobs take their places in their key's line: another key's
    /// single job is claimed before the batch's second.
    @Test func aBatchWaitsItsTurnBesideAnotherKeysJob() async throws {
        try await JobQueueTests.withQueue { queue, database in
            let big = try Self.batch(50, fairnessKey: "big")
            try await Self.enqueue(big, queue, database)
            let small = try NewJob(kind: "part", queue: "part", args: Args(n: -1), maxAttempts: 3, fairnessKey: "small")
            _ = try await database.transaction { connection in try await queue.enqueue(small, on: connection) }
            let firstTwo = try await queue.claim(queue: "part", workerID: "w", limit: 2, lease: .seconds(30))
            #expect(firstTwo.map(\.lease.jobID).contains(small.id))
            #expect(try firstTwo.compactMap { $0.lease.jobID == small.id ? nil : try $0.decodeArgs(Args.self).n } == [0], "the batch's jobs keep their order")
        }
    }
}
