import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// Where an event stands in its conversation's log: its writing transaction,
/// then its id (see `sql/008_conversation_events.sql`). Positions only grow.
public struct EventPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var transaction: UInt64
    public var id: Int64

    public init(transaction: UInt64, id: Int64) {
        self.transaction = transaction
        self.id = id
    }

    /// Before every event.
    public static let start = EventPosition(transaction: 0, id: 0)

    /// As an SSE `id:`: 20 digits of transaction, then 19 of id, so the text
    /// is a decimal number that grows with the position.
    public var description: String {
        let transaction = String(transaction)
        let id = String(id)
        return String(repeating: "0", count: max(0, 20 - transaction.count)) + transaction
            + String(repeating: "0", count: max(0, 19 - id.count)) + id
    }

    /// Parses an SSE id written by ``description``; nil for anything else.
    public init?(_ text: some StringProtocol) {
        guard text.count == 39, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber),
            let transaction = UInt64(text.prefix(20)), let id = Int64(text.suffix(19))
        else { return nil }
        self.init(transaction: transaction, id: id)
    }

    public static func < (lhs: EventPosition, rhs: EventPosition) -> Bool {
        (lhs.transaction, lhs.id) < (rhs.transaction, rhs.id)
    }
}

/// One thing that happened in a conversation.
public struct ConversationEvent: Sendable, Hashable {
    public var position: EventPosition
    /// `message.created` or `message.updated`.
    public var kind: String
    public var messageID: UUID
    /// The message's API JSON at that moment.
    public var data: String
}

/// A batch read from a conversation's event log.
public struct EventBatch: Sendable {
    /// The events after the position asked for that no transaction can precede any more.
    public var events: [ConversationEvent]
    /// True when later events exist but are not final yet (a transaction that
    /// began before them is still open): read again shortly.
    public var pending: Bool
}

/// The conversation event log's SQL.
public struct EventStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }
    /// Up to `limit` events of `conversationID` after `position`, in order,
    /// each final: written by a transaction older than every transaction
    /// still open, so nothing can ever appear before it.
    public func events(conversationID: UUID, after position: EventPosition, limit: Int) async throws -> EventBatch {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT e.tx::text, e.id, e.kind, e.message_id, e.data, e.tx < pg_snapshot_xmin(pg_current_snapshot())
                FROM conversation_events e
                WHERE e.conversation_id = \(conversationID) AND (e.tx, e.id) > (\(String(position.transaction))::xid8, \(position.id))
                -- Qualified: a bare `tx` here is the text column above, and would put 1000 before 999.
                ORDER BY e.tx, e.id
                LIMIT \(limit)
                """,
                logger: logger
            )
            var batch = EventBatch(events: [], pending: false)
            for try await (transaction, id, kind, messageID, data, final) in rows.decode(ConversationEvent.RowWithFinality.self) {
                guard final, let transaction = UInt64(transaction) else {
                    batch.pending = true
                    break
                }
                batch.events.append(
                    ConversationEvent(position: EventPosition(transaction: transaction, id: id), kind: kind, messageID: messageID, data: data)
                )
            }
            return batch
        }
    }

    /// The position of `conversationID`'s latest final event (``EventPosition/start``
    /// when it has none): where a new stream without a Last-Event-ID begins.
    public func latestEventPosition(conversationID: UUID) async throws -> EventPosition {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT e.tx::text, e.id FROM conversation_events e
                WHERE e.conversation_id = \(conversationID) AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
                -- Qualified: a bare `tx` here is the text column above, and would put 999 after 1000.
                ORDER BY e.tx DESC, e.id DESC
                LIMIT 1
                """,
                logger: logger
            )
            for try await (transaction, id) in rows.decode(EventPosition.Row.self) {
                if let transaction = UInt64(transaction) { return EventPosition(transaction: transaction, id: id) }
            }
            return .start
        }
    }

    /// Deletes up to 5000 events older than `age`; returns how many.
    public func pruneEvents(olderThan age: Duration) async throws -> Int {
        try await database.withConnection { connection in
            try await connection.query(
                """
                DELETE FROM conversation_events WHERE id IN (
                    SELECT id FROM conversation_events WHERE created_at < now() - make_interval(secs => \(age / .seconds(1))) LIMIT 5000
                )
                RETURNING id
                """,
                logger: logger
            ).collect().count
        }
    }
}

extension ConversationEvent {
    /// `tx::text, id, kind, message_id, data` and whether the event's
    /// transaction is older than every running one (final).
    typealias RowWithFinality = (String, Int64, String, UUID, String, Bool)
}

extension EventPosition {
    /// `tx::text, id`: a transaction id as text (xid8 has no binary decoding here) and the event's id.
    typealias Row = (String, Int64)
}
