import NIOCore
import NIOPosix
import Synchronization

/// A database use did not finish within its deadline.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var timeout: Duration
    var description: String { "no answer within \(timeout)" }
}

/// Runs `body` and answers within `timeout`: with its result, or with
/// ``DeadlineExceeded`` (and `body` cancelled) when the deadline comes first.
func withDeadline<Result: Sendable>(
    _ timeout: Duration,
    abortable uses: InFlightUses? = nil,
    _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withDeadline(timeout, abortable: uses) { _ in try await body() }
}

/// Runs `body` and answers within `timeout`, unless `body` calls the `disarm`
/// closure it is given first: from then on it may take as long as it needs
/// (a `LISTEN` that has started, say). Registered in `uses`, it can also be
/// answered early with an error of the caller's (``InFlightUses/abortAll(with:)``).
///
/// Why not a task group racing a timer: a task group waits for every child,
/// and a postgres-nio call can wait forever on a future nobody fulfils (a
/// statement written to a connection that closed after it was leased). So
/// `body` runs in a task of its own that the caller does not wait for past the
/// deadline: it is cancelled then, and ends when its statement fails, which
/// the cancelled connection's close makes prompt in every case but that one.
func withDeadline<Result: Sendable>(
    _ timeout: Duration,
    abortable uses: InFlightUses? = nil,
    _ body: @escaping @Sendable (_ disarm: @escaping @Sendable () -> Void) async throws -> Result
) async throws -> Result {
    let race = DeadlineRace<Result>()
    let registration = uses?.add { error in race.abort(error) }
    defer { if let registration { uses?.remove(registration) } }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            guard race.begin(continuation) else { return }
            let work = Task {
                do {
                    race.answer(.success(try await body { race.disarm() }))
                } catch {
                    race.answer(.failure(error))
                }
            }
            // A timer on an event loop, not a sleeping task: it costs a heap entry,
            // and this runs for every database call.
            let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(timeout)) {
                race.expire(DeadlineExceeded(timeout: timeout))
            }
            race.track(work: work, timer: timer)
        }
    } onCancel: {
        race.abort(CancellationError())
    }
}

/// The uses of a resource in flight, each of which can be answered early.
final class InFlightUses: Sendable {
    private struct Registry {
        var next = 0
        var aborts: [Int: @Sendable (any Error) -> Void] = [:]
    }

    private let registry = Mutex(Registry())

    func add(_ abort: @escaping @Sendable (any Error) -> Void) -> Int {
        registry.withLock { registry in
            registry.next += 1
            registry.aborts[registry.next] = abort
            return registry.next
        }
    }

    /// How many uses are registered now.
    var count: Int { registry.withLock { $0.aborts.count } }

    func remove(_ id: Int) {
        _ = registry.withLock { $0.aborts.removeValue(forKey: id) }
    }

    /// Answers every use in flight with `error` now (their work is cancelled).
    func abortAll(with error: any Error) {
        let aborts = registry.withLock { Array($0.aborts.values) }
        for abort in aborts { abort(error) }
    }
}

/// Who answers the caller of ``withDeadline(_:abortable:_:)`` first: the
/// work, the timer, an abort or the caller's own cancellation. Only the
/// first answer counts; every later one is dropped.
private final class DeadlineRace<Result: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result, any Error>?
        /// An answer that came before the continuation was installed.
        var early: Swift.Result<Result, any Error>?
        var answered = false
        var disarmed = false
        var work: Task<Void, Never>?
        var timer: Scheduled<Void>?
    }

    private let state = Mutex(State())

    /// Installs the caller's continuation; false (and the continuation
    /// resumed) when an answer came first.
    func begin(_ continuation: CheckedContinuation<Result, any Error>) -> Bool {
        let early = state.withLock { state -> Swift.Result<Result, any Error>? in
            guard !state.answered else { return state.early }
            state.continuation = continuation
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    func track(work: Task<Void, Never>, timer: Scheduled<Void>) {
        let answered = state.withLock { state -> Bool in
            state.work = work
            state.timer = timer
            return state.answered
        }
        // Answered before the tasks were known: nothing may outlive the answer.
        if answered {
            work.cancel()
            timer.cancel()
        }
    }

    func disarm() {
        let timer = state.withLock { state -> Scheduled<Void>? in
            state.disarmed = true
            return state.timer
        }
        timer?.cancel()
    }

    /// Answers the caller, unless it was answered already; true when this answer counted.
    @discardableResult
    func answer(_ result: Swift.Result<Result, any Error>) -> Bool {
        typealias Taken = (continuation: CheckedContinuation<Result, any Error>?, timer: Scheduled<Void>?)
        let taken = state.withLock { state -> Taken? in
            guard !state.answered else { return nil }
            state.answered = true
            if state.continuation == nil { state.early = result }
            defer { state.continuation = nil }
            return (state.continuation, state.timer)
        }
        guard let taken else { return false }
        taken.timer?.cancel()
        taken.continuation?.resume(with: result)
        return true
    }

    /// The deadline passed: answers the caller unless the work was disarmed or answered first.
    func expire(_ error: DeadlineExceeded) {
        guard !state.withLock({ $0.disarmed }) else { return }
        abort(error)
    }

    /// Answers the caller with `error` now and cancels the work.
    func abort(_ error: any Error) {
        guard answer(.failure(error)) else { return }
        let work = state.withLock { $0.work }
        work?.cancel()
    }
}
