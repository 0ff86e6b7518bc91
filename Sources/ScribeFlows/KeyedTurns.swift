import Foundation
import Synchronization

/// Turns by key within one process: one holder per key at a time, the others
/// waiting in line, first come first served.
///
/// One person's concurrent uploads all end on the same counter row
/// (`files_in_flight`), whose lock each holds through its commit. Left to
/// PostgreSQL, a hundred of them wait on that row together, and every commit
/// wakes all the waiters to find one winner: a hundred wake-ups per upload.
/// Taking the person's turn here first leaves one waiter per process at the
/// row; the rest wait on a continuation, for free.
final class KeyedTurns: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        /// Keys someone holds, with who waits for them in order.
        var lines: [UUID: [Waiter]] = [:]
        var nextID: UInt64 = 0
        /// Waiters cancelled before they were in line.
        var cancelled: Set<UInt64> = []
    }

    private let state = Mutex(State())

    /// Waits for `key`'s turn; the caller must ``release(_:)`` it once done.
    /// Throws `CancellationError` (and holds nothing) when the task is
    /// cancelled while it waits.
    func acquire(_ key: UUID) async throws {
        let id: UInt64? = state.withLock { state in
            guard state.lines[key] != nil else {
                state.lines[key] = []
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelledAlready = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return true }
                    state.lines[key, default: []].append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelledAlready { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { state in
                if let index = state.lines[key]?.firstIndex(where: { $0.id == id }) {
                    return state.lines[key]?.remove(at: index)
                }
                // Not in line yet (or handed the turn already: then it goes on and releases it).
                state.cancelled.insert(id)
                return nil
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Ends the caller's turn at `key`: the next in line gets it.
    func release(_ key: UUID) {
        let next: Waiter? = state.withLock { state in
            guard var line = state.lines[key] else { return nil }
            guard !line.isEmpty else {
                state.lines[key] = nil
                return nil
            }
            let first = line.removeFirst()
            state.lines[key] = line
            return first
        }
        next?.continuation.resume()
    }
}

/// Whether a caller holds its turn, so it is released exactly once on every path.
final class TurnHeld: Sendable {
    private let held = Atomic<Bool>(false)

    func take(_ key: UUID, from turns: KeyedTurns) async throws {
        try await turns.acquire(key)
        held.store(true, ordering: .releasing)
    }

    func release(_ key: UUID, to turns: KeyedTurns) {
        if held.exchange(false, ordering: .acquiringAndReleasing) { turns.release(key) }
    }
}
