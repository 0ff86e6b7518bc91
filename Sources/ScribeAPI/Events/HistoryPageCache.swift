import Foundation
import NIOCore
import Synchronization

/// The rendered history pages (`GET /v1/conversations/{id}/messages`) this
/// API process has served, kept while its event listener says nothing in
/// their conversation changed: a poll of an unchanged conversation is then
/// answered without a query.
///
/// Freshness is the ``EventHub``'s job: it drops a conversation's pages on each
/// of its notifications, everything when its listener (re)starts or stops,
/// and a page is served only after ``CatchUpBarrier`` says every change
/// committed before the request has been heard. A page read from the database
/// is kept only if no change of its conversation was heard while it was read
/// (its ``Ticket``): otherwise a stale page could outlive the change that made
/// it stale.
///
/// Memory is bounded by `capacity` bytes of bodies (plus a fixed charge per
/// conversation); past it, the least recently used conversations go.
final class HistoryPageCache: Sendable {
    /// One page of one conversation.
    struct Key: Hashable, Sendable {
        var conversationID: UUID
        var after: UUID?
        var limit: Int
    }

    /// Proof that no change of a conversation was heard since it was taken.
    struct Ticket: Sendable {
        fileprivate var conversationID: UUID
        fileprivate var generation: UInt64
    }

    /// What each conversation costs besides its pages' bytes.
    static let entryCost = 256

    /// Bytes of bodies kept at most; 0 keeps nothing.
    let capacity: Int
    private let state = Mutex(State())

    private struct Entry {
        var owner: UUID?
        var generation: UInt64
        var pages: [Key: ByteBuffer] = [:]
        var bytes = HistoryPageCache.entryCost
        var lastUsed: UInt64
    }

    private struct State {
        var entries: [UUID: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0

        mutating func tick() -> UInt64 {
            clock += 1
            return clock
        }

        /// Drops the least recently used conversations until at most 90 % of
        /// `capacity` is used (so eviction runs once per many insertions).
        mutating func evictIfOver(_ capacity: Int) {
            guard bytes > capacity else { return }
            let target = capacity / 10 * 9
            for (id, entry) in entries.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                guard bytes > target else { break }
                entries[id] = nil
                bytes -= entry.bytes
            }
        }
    }

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var isEnabled: Bool { capacity > 0 }

    /// The kept page, if `userID` owns its conversation.
    func page(_ key: Key, userID: UUID) -> ByteBuffer? {
        state.withLock { state in
            guard var entry = state.entries[key.conversationID], entry.owner == userID, let page = entry.pages[key] else { return nil }
            entry.lastUsed = state.tick()
            state.entries[key.conversationID] = entry
            return page
        }
    }

    /// Taken before a page is read from the database, handed back to ``keep``.
    func ticket(for conversationID: UUID) -> Ticket {
        state.withLock { state in
            if let entry = state.entries[conversationID] {
                return Ticket(conversationID: conversationID, generation: entry.generation)
            }
            let generation = state.tick()
            state.entries[conversationID] = Entry(generation: generation, lastUsed: generation)
            state.bytes += Self.entryCost
            state.evictIfOver(capacity)
            return Ticket(conversationID: conversationID, generation: generation)
        }
    }

    /// Keeps `body` as the page `key` of `userID`'s conversation, unless a
    /// change of it was heard since `ticket` was taken.
    func keep(_ body: ByteBuffer, as key: Key, userID: UUID, ticket: Ticket) {
        guard isEnabled, body.readableBytes <= capacity / 4 else { return }
        state.withLock { state in
            guard var entry = state.entries[key.conversationID], entry.generation == ticket.generation else { return }
            entry.owner = userID
            let replaced = entry.pages.updateValue(body, forKey: key)?.readableBytes ?? 0
            entry.bytes += body.readableBytes - replaced
            entry.lastUsed = state.tick()
            state.entries[key.conversationID] = entry
            state.bytes += body.readableBytes - replaced
            state.evictIfOver(capacity)
        }
    }

    /// Forgets `conversationID`'s pages (a change of it was heard), or every
    /// conversation's when nil.
    func invalidate(_ conversationID: UUID?) {
        state.withLock { state in
            guard let conversationID else {
                state.entries = [:]
                state.bytes = 0
                return
            }
            guard var entry = state.entries[conversationID] else { return }
            state.bytes -= entry.bytes - Self.entryCost
            entry.pages = [:]
            entry.bytes = Self.entryCost
            entry.generation = state.tick()
            state.entries[conversationID] = entry
        }
    }

    /// Bytes kept now, the fixed charges included.
    var bytes: Int { state.withLock { $0.bytes } }
}
