import Foundation
import Logging
import PostgresNIO
import ScribePostgres
import ServiceLifecycle
import Synchronization

/// A worker daemon: claims jobs with `FOR UPDATE SKIP LOCKED`, runs each
/// with the handler of its kind, keeps their leases alive, rescues other
/// workers' expired leases, and shuts down gracefully.
///
/// Each of its queues has its own claim loop and its own number of slots, so
/// a queue of slow jobs (LLM calls) never holds the slots of another (OCR).
/// Wake-ups come from LISTEN/NOTIFY (the payload names the queue), from
/// finished jobs (a free slot) and from a poll timer as the fallback. On
/// graceful shutdown (SIGTERM) it stops claiming, lets running jobs finish
/// within the grace period, cancels the rest and hands them back as
/// `available` without spending an attempt, so a deploy never fails a job.
/// Any number of these may run on any hosts.
public struct QueueWorker: Service {
    public let workerID: String
    let configuration: QueueWorkerConfiguration
    let queue: JobQueue
    let handlers: [String: any JobHandler]
    let logger: Logger
    let metrics: JobMetrics

    /// A worker running `handlers` (one per kind) on `configuration.queues`,
    /// recording its attempts and failures in `metrics`.
    public init(
        configuration: QueueWorkerConfiguration,
        queue: JobQueue,
        handlers: [any JobHandler],
        logger: Logger,
        workerID: String? = nil,
        metrics: JobMetrics = JobMetrics()
    ) {
        self.configuration = configuration
        self.queue = queue
        self.handlers = Dictionary(handlers.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
        self.logger = logger
        self.workerID = workerID ?? Self.makeWorkerID()
        self.metrics = metrics
    }

    /// `host:pid:random`: unique per process, readable in `jobs.locked_by`.
    static func makeWorkerID() -> String {
        let host = ProcessInfo.processInfo.hostName
        let suffix = UUID().uuidString.prefix(8).lowercased()
        return "\(host):\(ProcessInfo.processInfo.processIdentifier):\(suffix)"
    }

    public func run() async throws {
        var workerLogger = logger
        workerLogger[metadataKey: "worker"] = "\(workerID)"
        let logger = workerLogger
        let wakers = QueueWakers(queues: Array(configuration.queues.keys))
        let state = WorkerState()
        let acknowledgements = Acknowledgements()
        logger.info(
            "worker started",
            metadata: ["queues": "\(configuration.queues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"]
        )

        await withDiscardingTaskGroup { group in
            group.addTask { await acknowledgements.run(queue: queue, logger: logger) }
            await serve(wakers: wakers, state: state, acknowledgements: acknowledgements, logger: logger)
            // Every job task has ended: write the last acknowledgements before handing anything back.
            acknowledgements.finish()
        }

        do {
            let handedBack = try await queue.handBack(workerID: workerID, then: transitioned)
            logger.info("worker stopped", metadata: ["handed_back": "\(handedBack)"])
        } catch {
            logger.error("could not hand jobs back; their leases will expire", metadata: ["error": "\(error)"])
        }
    }

    /// Claims and runs jobs on every queue, with the listener, the poll
    /// timer, the heartbeat and the rescuer beside them, until graceful
    /// shutdown; returns when every job task has ended.
    private func serve(wakers: QueueWakers, state: WorkerState, acknowledgements: Acknowledgements, logger: Logger) async {
        await withDiscardingTaskGroup { background in
            background.addTask {
                await ChannelListener(database: queue.database, channel: JobQueue.channel, logger: logger) { event in
                    switch event {
                    case .notification(let queue): wakers.wake(queue)
                    case .listening: wakers.wake("")
                    case .lost: break
                    }
                }.run()
            }
            background.addTask { await every(configuration.pollInterval) { wakers.wake("") } }
            background.addTask { await heartbeat(state: state, logger: logger) }
            background.addTask { await maintain(logger: logger) }

            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { loops in
                    for (name, slots) in configuration.queues {
                        loops.addTask {
                            var logger = logger
                            logger[metadataKey: "queue"] = "\(name)"
                            await claimAndRun(name, slots: slots, wakers: wakers, state: state, acknowledgements: acknowledgements, logger: logger)
                        }
                    }
                }
            } onGracefulShutdown: {
                state.stop()
                wakers.wake("")
            }
            background.cancelAll()
        }
    }

    /// What every queue-changing statement runs in its transaction: each
    /// kind's handler sees its own jobs' transitions.
    @Sendable func transitioned(_ transitions: [JobTransition], on connection: PostgresConnection) async throws {
        for (kind, changes) in Dictionary(grouping: transitions, by: \.kind) {
            try await handlers[kind]?.jobsChanged(changes, on: connection)
        }
    }

    /// Extends the leases of the running jobs every third of the lease. After
    /// a failed renewal (the database away) it tries again every half second,
    /// so that when the database returns, leases are renewed before other
    /// workers' rescuers find them expired.
    private func heartbeat(state: WorkerState, logger: Logger) async {
        var failing = false
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: failing ? .milliseconds(500) : configuration.leaseDuration / 3)
            } catch {
                return
            }
            // A job past its time limit is no longer kept alive: its lease
            // expires and any worker's rescuer returns it to the queue.
            let (alive, overdue) = state.leases(runningLessThan: configuration.jobTimeout)
            for lease in overdue {
                logger.error("job exceeded its time limit; letting its lease expire", metadata: ["job": "\(lease.jobID)"])
            }
            guard !alive.isEmpty else {
                failing = false
                continue
            }
            do {
                let renewed = try await queue.extendLeases(alive, by: configuration.leaseDuration)
                if failing { logger.notice("heartbeat renewed leases again", metadata: ["renewed": "\(renewed)", "running": "\(alive.count)"]) }
                failing = false
            } catch {
                if !failing { logger.warning("heartbeat failed; retrying every 500 ms", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }

    /// One queue's claim loop: claim as many jobs as the queue has free
    /// slots, run each in a child task, wait for a wake-up, repeat until asked
    /// to stop; then give running jobs the grace period and cancel the rest.
    private func claimAndRun(
        _ name: String,
        slots: Int,
        wakers: QueueWakers,
        state: WorkerState,
        acknowledgements: Acknowledgements,
        logger: Logger
    ) async {
        let wakeups = wakers.wakeups(of: name)
        await withDiscardingTaskGroup { jobs in
            var wakeup = wakeups.makeAsyncIterator()
            var failures = 0
            while !state.isStopping, !Task.isCancelled {
                let free = slots - state.running(in: name)
                if free > 0 {
                    do {
                        let claimed = try await queue.claim(queue: name, workerID: workerID, limit: free, lease: configuration.leaseDuration)
                        failures = 0
                        for job in claimed {
                            state.started(job.lease, in: name)
                            jobs.addTask {
                                await execute(job, state: state, acknowledgements: acknowledgements, logger: logger)
                                state.finished(job.lease)
                                wakers.wake(name)
                            }
                        }
                        // A full batch means there may be more: claim again at once.
                        if claimed.count == free { continue }
                    } catch {
                        failures += 1
                        // Once per outage in the log; the retries are cheap (an unreachable
                        // database fails at once) and soon after it returns one succeeds.
                        if failures == 1 { logger.warning("claim failed; retrying", metadata: ["error": "\(error)"]) }
                        try? await Task.sleep(for: min(.milliseconds(50) * (1 << min(failures, 6)), .seconds(1)))
                        continue
                    }
                }
                _ = await wakeup.next()
            }

            // Stopping: give running jobs the grace period, then cancel them.
            let deadline = ContinuousClock.now + configuration.shutdownGrace
            while state.running(in: name) > 0, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(50))
            }
            if state.running(in: name) > 0 {
                logger.notice("grace period over; handing running jobs back", metadata: ["running": "\(state.running(in: name))"])
            }
            jobs.cancelAll()
        }
    }

    /// Runs one job and records a failure; success is the handler's to record.
    private func execute(_ job: ClaimedJob, state: WorkerState, acknowledgements: Acknowledgements, logger: Logger) async {
        var logger = logger
        logger[metadataKey: "job"] = "\(job.lease.jobID)"
        logger[metadataKey: "attempt"] = "\(job.lease.attempt)"
        logger[metadataKey: "kind"] = "\(job.kind)"
        for (key, value) in job.metadata where logger[metadataKey: key] == nil {
            logger[metadataKey: key] = "\(value)"
        }
        let measured = metrics.series(queue: job.queue, kind: job.kind)
        measured.attempts.increment()
        do {
            guard let handler = handlers[job.kind] else {
                // Perhaps a newer worker knows it: retry later rather than fail it here.
                throw JobError.retryable("no handler for kind \(job.kind) in this worker", userMessage: "This task cannot run right now.")
            }
            switch try await measured.duration.measure(body: { try await handler.run(job) }) {
            case .recorded: logger.trace("job succeeded")
            case .acknowledge: acknowledgements.add(job.lease)
            }
        } catch let error as QueueError where error.code == .leaseLost {
            logger.warning("lease lost; the job belongs to another attempt now")
        } catch let error as DatabaseError where error.code == .unavailable {
            // Not the job's fault, so not an attempt spent: the database went away.
            if state.isStopping, Task.isCancelled { return }
            logger.notice("database unreachable during the job; handing it back once it returns")
            await handBackWhenReachable(job.lease, logger: logger)
        } catch {
            if state.isStopping, Task.isCancelled {
                logger.info("job interrupted by shutdown; it will be handed back")
                return
            }
            let failure = error as? JobError
                ?? .retryable("\(error)", userMessage: "Something went wrong on our side while doing this.")
            do {
                let delay = failure.isPermanent ? .zero : configuration.retryDelay(afterAttempt: job.lease.attempt, retryAfter: failure.retryAfter)
                let next = try await queue.recordFailure(job.lease, error: failure, delay: delay, then: transitioned)
                metrics.failed(queue: job.queue, kind: job.kind, leaseExpired: false, willRetry: next == .available)
                if failure.isPermanent {
                    logger.notice("job failed permanently", metadata: ["reason": "\(failure.reason)"])
                } else {
                    logger.notice(
                        next == .failed ? "job failed: attempts spent" : "job will be retried",
                        metadata: ["reason": "\(failure.reason)", "delay": "\(delay)"]
                    )
                }
            } catch {
                logger.warning("could not record the failure; the lease will expire", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Hands `lease`'s job back to the queue without spending an attempt, as
    /// soon as the database answers again (at most `jobTimeout` from now, and
    /// not past cancellation: then the lease expires and a rescuer takes it).
    private func handBackWhenReachable(_ lease: JobLease, logger: Logger) async {
        let deadline = ContinuousClock.now + configuration.jobTimeout
        while ContinuousClock.now < deadline {
            do {
                if try await queue.handBack(lease, then: transitioned) {
                    logger.notice("job handed back after the database returned")
                } else {
                    logger.notice("job was finished or rescued meanwhile; nothing to hand back")
                }
                return
            } catch let error as DatabaseError where error.code == .unavailable {
                do {
                    try await Task.sleep(for: .milliseconds(500))
                } catch {
                    return
                }
            } catch {
                logger.warning("could not hand the job back; its lease will expire", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    /// Rescues expired leases every `rescueInterval` and prunes old finished jobs every minute.
    private func maintain(logger: Logger) async {
        var lastPrune = ContinuousClock.now - .seconds(60)
        var failing = false
        await every(configuration.rescueInterval) {
            do {
                let expired = RescuedJobs()
                let rescued = try await queue.rescueExpiredLeases { changes, connection in
                    try await transitioned(changes, on: connection)
                    expired.keep(changes)
                }
                // Counted once the rescue has committed.
                for job in expired.jobs {
                    metrics.failed(queue: job.queue, kind: job.kind, leaseExpired: true, willRetry: job.state == .available)
                }
                if failing { logger.notice("rescuer reaches the database again") }
                failing = false
                if rescued.requeued + rescued.failed > 0 {
                    logger.notice("rescued expired leases", metadata: ["requeued": "\(rescued.requeued)", "failed": "\(rescued.failed)"])
                }
                if ContinuousClock.now - lastPrune >= .seconds(60) {
                    lastPrune = .now
                    let pruned = try await queue.prune(olderThan: configuration.jobRetention)
                    if pruned > 0 { logger.info("pruned finished jobs", metadata: ["jobs": "\(pruned)"]) }
                }
            } catch {
                // Once per outage in the log, not once per interval.
                if !failing { logger.warning("rescue failed; retrying", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }
}

/// Runs `body` every `interval` until the task is cancelled.
func every(_ interval: Duration, _ body: () async -> Void) async {
    while !Task.isCancelled {
        do {
            try await Task.sleep(for: interval)
        } catch {
            return
        }
        await body()
    }
}

/// Each queue's wake-up stream: a nudge for a queue that has (or may have) work.
final class QueueWakers: Sendable {
    private let streams: [String: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)]

    init(queues: [String]) {
        streams = Dictionary(
            queues.map { ($0, AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))) },
            uniquingKeysWith: { first, _ in first }
        )
    }

    /// The nudges of one queue (one consumer: its claim loop).
    func wakeups(of queue: String) -> AsyncStream<Void> {
        streams[queue]?.stream ?? AsyncStream { $0.finish() }
    }

    /// Nudges `queue`'s loop; an empty or unknown name nudges every loop.
    func wake(_ queue: String) {
        if let stream = streams[queue] {
            stream.continuation.yield()
        } else {
            for stream in streams.values { stream.continuation.yield() }
        }
    }
}

/// What the claim loops, the job tasks, the heartbeat and the shutdown handler share.
final class WorkerState: Sendable {
    private struct Running {
        var queue: String
        var started: ContinuousClock.Instant
    }

    private struct Shared {
        var running: [JobLease: Running] = [:]
        var stopping = false
    }

    private let shared = Mutex(Shared())

    var isStopping: Bool { shared.withLock { $0.stopping } }
    func running(in queue: String) -> Int { shared.withLock { $0.running.values.count { $0.queue == queue } } }
    func started(_ lease: JobLease, in queue: String) { shared.withLock { $0.running[lease] = Running(queue: queue, started: .now) } }
    func finished(_ lease: JobLease) { shared.withLock { $0.running[lease] = nil } }
    func stop() { shared.withLock { $0.stopping = true } }

    /// The running jobs split by age: those within `limit`, and those past it.
    func leases(runningLessThan limit: Duration) -> (alive: [JobLease], overdue: [JobLease]) {
        let now = ContinuousClock.now
        return shared.withLock { shared in
            var alive: [JobLease] = []
            var overdue: [JobLease] = []
            for (lease, running) in shared.running {
                if now - running.started < limit { alive.append(lease) } else { overdue.append(lease) }
            }
            return (alive, overdue)
        }
    }
}

extension QueueWorker: CustomStringConvertible {
    /// Short, for the service lifecycle's logs: the worker and its queues, not everything it holds.
    public var description: String {
        "QueueWorker(\(workerID), queues: \(configuration.queues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")))"
    }
}

/// The jobs a rescue changed, kept by its transaction's hook so that they
/// are counted only once the transaction has committed.
final class RescuedJobs: Sendable {
    private let changed = Mutex<[JobTransition]>([])

    func keep(_ transitions: [JobTransition]) { changed.withLock { $0 = transitions } }
    var jobs: [JobTransition] { changed.withLock { $0 } }
}
