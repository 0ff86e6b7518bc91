import Logging
import ScribePostgres
import Synchronization

/// Marks finished jobs `succeeded` many at a time: leases collect here while
/// one `UPDATE … FROM unnest(…)` is in flight, and the next one takes them
/// all, so acknowledgements cost one round trip per batch, not per job.
///
/// Each update is lease-guarded like any other outcome; a lease that expired
/// meanwhile is simply not updated (its job runs again elsewhere).
final class Acknowledgements: Sendable {
    /// The most leases one statement carries.
    static let maxBatch = 2000

    private struct Pending {
        var leases: [JobLease] = []
        var finished = false
    }

    private let pending = Mutex(Pending())
    private let wakeups: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation

    init() {
        (wakeups, waker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func add(_ lease: JobLease) {
        pending.withLock { $0.leases.append(lease) }
        waker.yield()
    }

    /// No more leases will come; ``run(queue:logger:)`` writes what is left and returns.
    func finish() {
        pending.withLock { $0.finished = true }
        waker.finish()
    }

    /// Writes acknowledgements until ``finish()`` and the last batch is written.
    func run(queue: JobQueue, logger: Logger) async {
        var wakeup = wakeups.makeAsyncIterator()
        while true {
            let (batch, finished) = pending.withLock { pending -> ([JobLease], Bool) in
                let batch = Array(pending.leases.prefix(Self.maxBatch))
                pending.leases.removeFirst(batch.count)
                return (batch, pending.finished && pending.leases.isEmpty)
            }
            if !batch.isEmpty {
                do {
                    _ = try await queue.acknowledge(batch)
                } catch {
                    // The leases will expire and the jobs run again: a no-op job is safe to repeat.
                    logger.warning("could not acknowledge jobs", metadata: ["count": "\(batch.count)", "error": "\(error)"])
                }
                continue
            }
            if finished { return }
            _ = await wakeup.next()
        }
    }
}
