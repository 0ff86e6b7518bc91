import Foundation
import Synchronization
import Testing

@testable import ScribeFlows

/// At most `holders` per key at a time, in the order they came; other keys
/// never wait; a waiter cancelled in line leaves it holding nothing.
@Suite struct KeyedTurnsTests {
    /// Who is inside, the most ever at once, and in which order they came in.
    final class Probe: Sendable {
        let state = Mutex((inside: 0, most: 0, order: [Int]()))
        func enter(_ n: Int) { state.withLock { $0.inside += 1; $0.most = max($0.most, $0.inside); $0.order.append(n) } }
        func leave() { state.withLock { $0.inside -= 1 } }
    }

    @Test func oneHolderPerKeyAtATimeInTheOrderTheyCame() async throws {
        let turns = KeyedTurns()
        let key = UUID()
        let probe = Probe()
        try await turns.acquire(key)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<50 {
                group.addTask {
                    try await turns.acquire(key)
                    probe.enter(n)
                    try await Task.sleep(for: .microseconds(200))
                    probe.leave()
                    turns.release(key)
                }
                // Each in line before the next comes.
                try await Task.sleep(for: .milliseconds(2))
            }
            // Another key is not held up by this one's line.
            let other = UUID()
            try await turns.acquire(other)
            turns.release(other)
            turns.release(key)
            try await group.waitForAll()
        }
        #expect(probe.state.withLock { $0.most } == 1)
        #expect(probe.state.withLock { $0.order } == Array(0..<50))
        // Nobody holds it now: it is taken at once.
        try await turns.acquire(key)
        turns.release(key)
    }

    @Test func severalHoldersPerKeyNeverMore() async throws {
        let turns = KeyedTurns(holders: 3)
        let key = UUID()
        let probe = Probe()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<60 {
                group.addTask {
                    try await turns.acquire(key)
                    probe.enter(n)
                    try await Task.sleep(for: .milliseconds(1))
                    probe.leave()
                    turns.release(key)
                }
            }
            try await group.waitForAll()
        }
        #expect(probe.state.withLock { $0.most } == 3, "three at once, never more")
        // Every turn was given back: three are taken at once, and a fourth waits.
        for _ in 0..<3 { try await turns.acquire(key) }
        let fourth = Task { try await turns.acquire(key) }
        try await Task.sleep(for: .milliseconds(20))
        fourth.cancel()
        await #expect(throws: CancellationError.self) { try await fourth.value }
        for _ in 0..<3 { turns.release(key) }
        try await turns.acquire(key)
        turns.release(key)
    }

    @Test func aWaiterCancelledInLineHoldsNothing() async throws {
        let turns = KeyedTurns()
        let key = UUID()
        try await turns.acquire(key)
        let waiter = Task { try await turns.acquire(key) }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        // A task cancelled before it waits does not get in line either.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await turns.acquire(key)
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        turns.release(key)
        // The turn went to nobody: it is free.
        try await turns.acquire(key)
        turns.release(key)
    }
}
