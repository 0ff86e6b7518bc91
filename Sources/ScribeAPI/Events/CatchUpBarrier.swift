import Foundation
import Logging
import NIOCore
import NIOPosix
import ScribePostgres
import Synchronization

/// Tells whether this process's listener has heard every change committed
/// before a given moment: what lets a cache invalidated by NOTIFY answer as
/// freshly as the database (read-your-writes across processes).
///
/// Postgres delivers the notifications of different transactions in the order
/// they committed. So a process that sends a NOTIFY of its own and then hears
/// it back has heard, before it, every NOTIFY committed earlier: including
/// the one of a write another process acknowledged to a client before that
/// client asked this process. Callers that arrive while a round is out wait
/// for the next one, so one NOTIFY serves every request of a round (at most
/// one round is out at a time).
///
/// A round that is not heard back within its deadline, and every round while
/// the listener is not listening, answers `false`: the caller then reads the
/// database, as it would without a cache.
final class CatchUpBarrier: Sendable {
    /// Payloads of barrier rounds start with this, which no conversation id does.
    static let payloadPrefix = "~"

    let channel: String
    let database: Database
    let deadline: Duration
    let logger: Logger
    /// This process's rounds' payload prefix: other processes' rounds are ignored.
    let tag: String
    private let state = Mutex(State())
    private let kicks: AsyncStream<Void>
    private let kicker: AsyncStream<Void>.Continuation

    private struct Round {
        var number: UInt64
        var waiters: [CheckedContinuation<Bool, Never>]
    }

    private struct State {
        var listening = false
        var closed = false
        var rounds: UInt64 = 0
        /// The round whose NOTIFY is out, not yet heard back.
        var current: Round?
        /// Callers who arrived after `current` was sent.
        var next: [CheckedContinuation<Bool, Never>] = []
    }

    init(channel: String, database: Database, deadline: Duration = .seconds(1), logger: Logger) {
        self.channel = channel
        self.database = database
        self.deadline = deadline
        self.logger = logger
        tag = Self.payloadPrefix + UUID().uuidString + ":"
        (kicks, kicker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether every change committed before this call has been heard (true),
    /// or that cannot be told now (false: not listening, or the round was not
    /// heard back within the deadline).
    func caughtUp() async -> Bool {
        await withCheckedContinuation { continuation in
            let kick = state.withLock { state -> Bool? in
                guard state.listening, !state.closed else { return nil }
                state.next.append(continuation)
                return state.current == nil
            }
            switch kick {
            case nil: continuation.resume(returning: false)
            case true?: kicker.yield()
            case false?: break
            }
        }
    }

    /// Sends the rounds, one at a time, until cancelled or closed: woken when
    /// someone waits and no round is out, and when a round ends with callers
    /// waiting for the next.
    func run() async {
        for await _ in kicks {
            guard let number = startRound() else { continue }
            // Heard back or not, the round ends by its deadline, counted from now:
            // with the database gone, sending can hang as long as hearing.
            MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(deadline)) { [weak self] in
                self?.endRound(number, heard: false)
            }
            do {
                // A round needs no durability: its commit need not wait for the WAL
                // flush (which it would do holding Postgres's one NOTIFY lock, in
                // every writer's way). The order of delivery is the same.
                try await database.withConnection(timeout: deadline) { [channel, tag, logger] connection in
                    _ = try await connection.query(
                        "SELECT set_config('synchronous_commit', 'off', true), pg_notify(\(channel), \(tag + String(number)))",
                        logger: logger
                    )
                }
            } catch {
                logger.debug("a catch-up round could not be sent", metadata: ["error": "\(error)"])
                endRound(number, heard: false)
            }
        }
    }

    /// The listener's report; returns whether `payload` was a barrier round
    /// (this process's or another's), which is no change of anything.
    func heard(_ payload: String) -> Bool {
        guard payload.hasPrefix(Self.payloadPrefix) else { return false }
        if payload.hasPrefix(tag), let number = UInt64(payload.dropFirst(tag.count)) {
            endRound(number, heard: true)
        }
        return true
    }

    /// The listener (re)started or stopped listening. Waiters of a round out
    /// while it stopped are answered `false`.
    func listening(_ listening: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.listening = listening
            guard !listening else { return [] }
            defer { state.current?.waiters = []; state.next = [] }
            return (state.current?.waiters ?? []) + state.next
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }

    /// Answers everyone `false` and ends `run`.
    func close() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.closed = true
            defer { state.current = nil; state.next = [] }
            return (state.current?.waiters ?? []) + state.next
        }
        for waiter in waiters { waiter.resume(returning: false) }
        kicker.finish()
    }

    /// Makes the callers waiting for the next round the current round's, or nil
    /// when nobody waits or a round is already out.
    private func startRound() -> UInt64? {
        state.withLock { state in
            guard state.current == nil, !state.next.isEmpty, !state.closed else { return nil }
            state.rounds += 1
            state.current = Round(number: state.rounds, waiters: state.next)
            state.next = []
            return state.rounds
        }
    }

    private func endRound(_ number: UInt64, heard: Bool) {
        let (waiters, more) = state.withLock { state -> ([CheckedContinuation<Bool, Never>], Bool) in
            guard let current = state.current, current.number == number else { return ([], false) }
            state.current = nil
            return (current.waiters, !state.next.isEmpty)
        }
        for waiter in waiters { waiter.resume(returning: heard) }
        if more { kicker.yield() }
    }
}
