import ScribeDocuments
import Synchronization

/// The free list of engines and the queue of tasks waiting for one.
///
/// Waiting is a suspended continuation, never a spin or a blocked thread.
/// Waiters are served first come, first served; a cancelled waiter leaves the
/// queue at once. ``close()`` refuses new checkouts and waits until every
/// engine is back, so engines are never ended while in use.
final class EngineCheckout: Sendable {
    private typealias Waiter = CheckedContinuation<Result<TesseractEngine, OCRError>, Never>

    private struct State {
        var idle: [TesseractEngine]
        let total: Int
        var waiters: [(id: UInt64, continuation: Waiter)] = []
        var nextWaiterID: UInt64 = 0
        var isClosed = false
        var drained: CheckedContinuation<Void, Never>?
    }

    private let state: Mutex<State>

    init(engines: [TesseractEngine]) {
        state = Mutex(State(idle: engines, total: engines.count))
    }

    /// Takes a free engine, suspending until one is returned when all are busy.
    ///
    /// Throws ``OCRError/Kind/engineUnavailable`` when the pool is shutting
    /// down or the calling task is cancelled while it waits.
    func acquire() async throws(OCRError) -> TesseractEngine {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Waiter) in
                let immediate: Result<TesseractEngine, OCRError>? = state.withLock { state in
                    if state.isClosed { return .failure(Self.closedError) }
                    if Task.isCancelled { return .failure(Self.cancelledError) }
                    if let engine = state.idle.popLast() { return .success(engine) }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: .failure(Self.cancelledError))
        }
        return try result.get()
    }

    /// Gives an engine back: to the longest waiter, or to the free list.
    func release(_ engine: TesseractEngine) {
        enum Next { case handOver(Waiter), signalDrained(CheckedContinuation<Void, Never>), nothing }
        let next = state.withLock { state -> Next in
            if !state.isClosed, !state.waiters.isEmpty {
                return .handOver(state.waiters.removeFirst().continuation)
            }
            state.idle.append(engine)
            if state.isClosed, state.idle.count == state.total, let drained = state.drained {
                state.drained = nil
                return .signalDrained(drained)
            }
            return .nothing
        }
        switch next {
        case .handOver(let waiter): waiter.resume(returning: .success(engine))
        case .signalDrained(let drained): drained.resume()
        case .nothing: break
        }
    }

    /// Refuses new checkouts, fails the waiters, and returns every engine once
    /// all are back. Returns an empty list if already closed.
    func close() async -> [TesseractEngine] {
        let waiters = state.withLock { state -> [Waiter]? in
            guard !state.isClosed else { return nil }
            state.isClosed = true
            defer { state.waiters.removeAll() }
            return state.waiters.map(\.continuation)
        }
        guard let waiters else { return [] }
        for waiter in waiters {
            waiter.resume(returning: .failure(Self.closedError))
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let allBack = state.withLock { state in
                if state.idle.count == state.total { return true }
                state.drained = continuation
                return false
            }
            if allBack { continuation.resume() }
        }
        return state.withLock { state in
            defer { state.idle.removeAll() }
            return state.idle
        }
    }

    private static var closedError: OCRError {
        OCRError(.engineUnavailable, "The OCR engine pool is shutting down.")
    }

    private static var cancelledError: OCRError {
        OCRError(.engineUnavailable, "The OCR request was cancelled while it waited for an engine.")
    }
}
