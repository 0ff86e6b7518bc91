import Foundation
import Logging
import Metrics
import NIOCore
import ScribePostgres
import ScribeStore
import ServiceLifecycle
import Synchronization

/// Fans one API process's conversation events out to its streams.
///
/// The process holds ONE `LISTEN scribe_events` connection, whatever the
/// number of streams. A NOTIFY names the conversation that changed (the
/// `messages` trigger of `sql/008` sends it), and only that conversation's
/// subscribers are woken; each then reads its own events from the durable log.
/// Every `heartbeat` each subscriber is also woken to send a comment, so idle
/// proxies keep the connection and a client that went away is noticed. On
/// shutdown every subscription ends, so streams finish cleanly and the HTTP
/// server can drain.
///
/// The same listener keeps the process's ``HistoryPageCache`` fresh: see
/// ``historyPage(_:userID:read:)``.
public final class EventHub: Service, Sendable {
    /// The channel the trigger notifies.
    public static let channel = "scribe_events"

    let database: Database
    let events: EventStore
    let heartbeat: Duration
    let retention: Duration
    let logger: Logger
    let historyPages: HistoryPageCache
    let barrier: CatchUpBarrier
    private let lookups: (hit: Counter, miss: Counter, bypass: Counter)
    private let state = Mutex(State())

    private struct State {
        var subscribers: [ObjectIdentifier: Subscription] = [:]
        var byConversation: [UUID: Set<ObjectIdentifier>] = [:]
        var closed = false
    }

    /// - Parameters:
    ///   - heartbeat: How often every stream is sent a comment (at most 15 s
    ///     keeps common proxies from closing an idle stream).
    ///   - retention: How long events are kept for streams to resume from;
    ///     older ones are deleted every ten minutes.
    ///   - historyCacheBytes: Bytes of rendered history pages kept; 0 keeps none.
    ///   - catchUpDeadline: How long a request waits for the process to hear
    ///     back its own `NOTIFY` before it reads its page from the database
    ///     instead (``CatchUpBarrier``).
    public init(
        database: Database,
        events: EventStore,
        heartbeat: Duration = .seconds(15),
        retention: Duration = .seconds(7 * 24 * 3600),
        historyCacheBytes: Int = 64 << 20,
        catchUpDeadline: Duration = .seconds(1),
        logger: Logger
    ) {
        self.database = database
        self.events = events
        self.heartbeat = heartbeat
        self.retention = retention
        self.logger = logger
        historyPages = HistoryPageCache(capacity: historyCacheBytes)
        barrier = CatchUpBarrier(channel: Self.channel, database: database, deadline: catchUpDeadline, logger: logger)
        let label = "scribe_history_cache_lookups_total"
        lookups = (
            Counter(label: label, dimensions: [("result", "hit")]),
            Counter(label: label, dimensions: [("result", "miss")]),
            Counter(label: label, dimensions: [("result", "bypass")])
        )
    }

    /// A history page: kept from an earlier request when nothing in its
    /// conversation changed since, else `read` from the database (and kept).
    ///
    /// A kept page is served only once the listener has heard every change
    /// committed before this call (``CatchUpBarrier``), so a client that wrote
    /// through any process, or was told of a change by any stream, reads it
    /// here. When that cannot be told (the listener is down, the cache is off),
    /// every page is read.
    func historyPage(_ key: HistoryPageCache.Key, userID: UUID, read: () async throws -> ByteBuffer?) async throws -> ByteBuffer? {
        guard historyPages.isEnabled, await barrier.caughtUp() else {
            lookups.bypass.increment()
            return try await read()
        }
        if let page = historyPages.page(key, userID: userID) {
            lookups.hit.increment()
            return page
        }
        lookups.miss.increment()
        let ticket = historyPages.ticket(for: key.conversationID)
        guard let page = try await read() else { return nil }
        historyPages.keep(page, as: key, userID: userID, ticket: ticket)
        return page
    }

    /// Subscribes to `conversationID`'s changes; nil once the hub has shut down.
    /// The subscription ends when the hub shuts down, or when it is dropped.
    public func subscribe(to conversationID: UUID) -> Subscription? {
        let subscription = Subscription(conversationID: conversationID)
        let key = ObjectIdentifier(subscription)
        let added = state.withLock { state in
            guard !state.closed else { return false }
            state.subscribers[key] = subscription
            state.byConversation[conversationID, default: []].insert(key)
            return true
        }
        guard added else { return nil }
        subscription.onEnd { [weak self] in self?.remove(key, conversationID: conversationID) }
        return subscription
    }

    /// How many streams this process serves now.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    public func run() async throws {
        defer { close() }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    await ChannelListener(database: self.database, channel: Self.channel, logger: self.logger) { event in
                        self.heard(event)
                    }.run()
                }
                group.addTask { await self.barrier.run() }
                group.addTask {
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: self.heartbeat) } catch { return }
                        for subscription in self.state.withLock({ Array($0.subscribers.values) }) { subscription.signal(.heartbeat) }
                    }
                }
                group.addTask { await self.prune() }
            }
        }
    }

    /// Deletes events past their retention, every ten minutes (every API
    /// process does; a delete of rows already gone costs little).
    private func prune() async {
        while !Task.isCancelled {
            do {
                let pruned = try await events.pruneEvents(olderThan: retention)
                if pruned > 0 { logger.info("pruned old conversation events", metadata: ["events": "\(pruned)"]) }
            } catch {
                logger.notice("could not prune old conversation events; trying again later", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: .seconds(600)) } catch { return }
        }
    }

    /// What the listener heard, in commit order: pages are dropped before the
    /// barrier can answer for a later moment, and before anyone is woken.
    private func heard(_ event: ChannelListener.Event) {
        switch event {
        case .listening:
            historyPages.invalidate(nil)
            barrier.listening(true)
            changed(nil)
        case .lost:
            barrier.listening(false)
            historyPages.invalidate(nil)
        case .notification(let payload):
            if barrier.heard(payload) { return }
            // The trigger's payload is a conversation id; anything else is not ours.
            guard let conversationID = UUID(uuidString: payload) else { return }
            historyPages.invalidate(conversationID)
            changed(conversationID)
        }
    }

    /// Wakes the subscribers of `conversationID`, or everyone's (after a
    /// reconnect, when nudges may have been missed) when nil.
    func changed(_ conversationID: UUID?) {
        let woken = state.withLock { state -> [Subscription] in
            guard let conversationID else { return Array(state.subscribers.values) }
            return state.byConversation[conversationID, default: []].compactMap { state.subscribers[$0] }
        }
        for subscription in woken { subscription.signal(.changed) }
    }

    private func remove(_ key: ObjectIdentifier, conversationID: UUID) {
        state.withLock { state in
            state.subscribers[key] = nil
            state.byConversation[conversationID]?.remove(key)
            if state.byConversation[conversationID]?.isEmpty == true { state.byConversation[conversationID] = nil }
        }
    }

    private func close() {
        barrier.close()
        historyPages.invalidate(nil)
        let all = state.withLock { state -> [Subscription] in
            state.closed = true
            return Array(state.subscribers.values)
        }
        for subscription in all { subscription.end() }
    }
}

/// One stream's subscription: what woke it since it last looked.
public final class Subscription: Sendable {
    /// Why a subscriber is woken.
    public struct Signals: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// The conversation may have new events.
        public static let changed = Signals(rawValue: 1)
        /// Time to send a heartbeat comment.
        public static let heartbeat = Signals(rawValue: 2)
    }

    public let conversationID: UUID
    private let pending = Mutex(Signals())
    private let wakeups: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation

    init(conversationID: UUID) {
        self.conversationID = conversationID
        (wakeups, waker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    deinit { waker.finish() }

    func onEnd(_ action: @escaping @Sendable () -> Void) {
        waker.onTermination = { _ in action() }
    }

    func signal(_ signals: Signals) {
        pending.withLock { $0.formUnion(signals) }
        waker.yield()
    }

    func end() { waker.finish() }

    /// Waits for the next wake-up and returns every signal since the last;
    /// nil when the subscription has ended (the hub shut down).
    public func next() async -> Signals? {
        var iterator = wakeups.makeAsyncIterator()
        guard await iterator.next() != nil else { return nil }
        return pending.withLock { pending in
            defer { pending = [] }
            return pending
        }
    }
}
