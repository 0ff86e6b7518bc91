import Foundation
import Synchronization

/// Turns by key within one process: at most `holders` per key at a time,
/// the others waiting in line, first come first served.
///
/// One person's concurrent uploads all end on their counter rows
/// (`files_in_flight`, sql/020: a few per person), each commit holding one
/// through its flush. Left to PostgreSQL, a hundred of them wait on those
/// rows together, and every commit wakes all its waiters to find one winner:
/// a hundred wake-ups per upload. Taking one of the person's turns here
/// first (as many as they have rows) leaves one waiter per row and process;
/// the rest wait on a continuation, for free.
final class KeyedTurns: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Line {
        var holders = 1
        var waiters: [Waiter] = []
    }

    private struct State {
        /// Keys someone holds, with how many hold them and who waits, in order.
        var lines: [UUID: Line] = [:]
        var nextID: UInt64 = 0
        /// Waiters cancelled before they were in line.
        var cancelled: Set<UInt64> = []
    }

    private let state = Mutex(State())
    /// How many may hold one key at once.
    let holders: Int

    /// Turns of which `holders` (at least one) may be held per key at once.
    init(holders: Int = 1) {
        self.holders = max(1, holders)
    }

    /// Waits for `key`'s turn; the caller must ``release(_:)`` it once done.
    /// Throws `CancellationError` (and holds nothing) when the task is
    /// cancelled while it waits.
    func acquire(_ key: UUID) async throws {
        let holders = holders
        let id: UInt64? = state.withLock { state in
            guard let line = state.lines[key] else {
                state.lines[key] = Line()
                return nil
            }
            if line.holders < holders {
                state.lines[key]?.holders += 1
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
                    state.lines[key, default: Line()].waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelledAlready { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { state in
                if let index = state.lines[key]?.waiters.firstIndex(where: { $0.id == id }) {
                    return state.lines[key]?.waiters.remove(at: index)
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
            guard !line.waiters.isEmpty else {
                line.holders -= 1
                state.lines[key] = line.holders > 0 ? line : nil
                return nil
            }
            let first = line.waiters.removeFirst()
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
