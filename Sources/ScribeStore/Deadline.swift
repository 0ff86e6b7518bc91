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
    _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withDeadline(timeout) { _ in try await body() }
}

/// Runs `body` and answers within `timeout`, unless `body` calls the `disarm`
/// closure it is given first: from then on it may take as long as it needs
/// (a `LISTEN` that has started, say).
///
/// Why not a task group racing a timer: a task group waits for every child,
/// and a postgres-nio call can wait forever on a future nobody fulfils (a
/// statement written to a connection that closed after it was leased). So
/// `body` runs in a task of its own that the caller does not wait for past the
/// deadline: it is cancelled then, and ends when its statement fails, which
/// the cancelled connection's close makes prompt in every case but that one.
func withDeadline<Result: Sendable>(
    _ timeout: Duration,
    _ body: @escaping @Sendable (_ disarm: @escaping @Sendable () -> Void) async throws -> Result
) async throws -> Result {
    let race = DeadlineRace<Result>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            guard race.begin(continuation) else { return }
            let work = Task {
                do {
                    race.finish(.success(try await body { race.disarm() }))
                } catch {
                    race.finish(.failure(error))
                }
            }
            let timer = Task {
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return
                }
                if race.expire(DeadlineExceeded(timeout: timeout)) { work.cancel() }
            }
            race.track(work: work, timer: timer)
        }
    } onCancel: {
        race.cancel()
    }
}

/// Who answers the caller of ``withDeadline(_:_:)`` first: the work, the
/// timer or the caller's own cancellation. Only the first one counts.
private final class DeadlineRace<Result: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result, any Error>?
        var answered = false
        var disarmed = false
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
    }

    private let state = Mutex(State())

    /// Installs the caller's continuation; false when the caller was already cancelled (and answered).
    func begin(_ continuation: CheckedContinuation<Result, any Error>) -> Bool {
        let proceed = state.withLock { state -> Bool in
            guard !state.answered else { return false }
            state.continuation = continuation
            return true
        }
        if !proceed { continuation.resume(throwing: CancellationError()) }
        return proceed
    }

    func track(work: Task<Void, Never>, timer: Task<Void, Never>) {
        let answered = state.withLock { state -> Bool in
            state.work = work
            state.timer = timer
            return state.answered
        }
        // Answered before the tasks were known (the work was quick, or the caller
        // was cancelled): nothing may outlive the answer.
        if answered {
            work.cancel()
            timer.cancel()
        }
    }

    func disarm() {
        let timer = state.withLock { state -> Task<Void, Never>? in
            state.disarmed = true
            return state.timer
        }
        timer?.cancel()
    }

    func finish(_ result: Swift.Result<Result, any Error>) {
        let (continuation, timer) = state.withLock { state in
            defer { state.continuation = nil }
            state.answered = true
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(with: result)
    }

    /// The deadline passed: answers the caller unless the work was disarmed or answered first.
    func expire(_ error: DeadlineExceeded) -> Bool {
        let continuation = state.withLock { state -> CheckedContinuation<Result, any Error>? in
            guard !state.disarmed, !state.answered else { return nil }
            state.answered = true
            defer { state.continuation = nil }
            return state.continuation
        }
        guard let continuation else { return false }
        continuation.resume(throwing: error)
        return true
    }

    /// The caller was cancelled: answers it and cancels the work.
    func cancel() {
        let (continuation, work, timer) = state.withLock { state in
            defer { state.continuation = nil }
            let continuation = state.answered ? nil : state.continuation
            state.answered = true
            return (continuation, state.work, state.timer)
        }
        work?.cancel()
        timer?.cancel()
        continuation?.resume(throwing: CancellationError())
    }
}
