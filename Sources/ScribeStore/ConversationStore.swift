import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// The conversations' SQL: each statement checks the owner, so another user's conversation is not found.
public struct ConversationStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// The audit trail a deletion is recorded in, in the same transaction.
    var audit: AuditStore { AuditStore(database: database, logger: logger) }
    /// Creates a conversation owned by `userID`.
    public func createConversation(userID: UUID, title: String) async throws -> Conversation {
        try await database.withConnection { connection in
            try await createConversation(userID: userID, title: title, on: connection)
        }
    }

    func createConversation(userID: UUID, title: String, on connection: PostgresConnection) async throws -> Conversation {
        let id = UUID.v7()
        let rows = try await connection.query(
            """
            INSERT INTO conversations (id, user_id, title) VALUES (\(id), \(userID), \(title))
            RETURNING \(unescaped: Conversation.columns)
            """,
            logger: logger
        )
        for try await row in rows.decode(Conversation.Row.self) { return Conversation(row) }
        throw StoreError(.notFound, "The new conversation was not returned.")
    }

    /// The conversation `id` if `userID` owns it, else nil.
    public func conversation(id: UUID, userID: UUID) async throws -> Conversation? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Conversation.columns) FROM conversations
                WHERE id = \(id) AND user_id = \(userID)
                """,
                logger: logger
            )
            for try await row in rows.decode(Conversation.Row.self) {
                return Conversation(row)
            }
            return nil
        }
    }

    /// Renames the conversation `id` if `userID` owns it; nil when it does not.
    /// Renaming does not make it more recently active (`updated_at` follows messages).
    public func renameConversation(id: UUID, userID: UUID, title: String) async throws -> Conversation? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                UPDATE conversations SET title = \(title) WHERE id = \(id) AND user_id = \(userID)
                RETURNING \(unescaped: Conversation.columns)
                """,
                logger: logger
            )
            for try await row in rows.decode(Conversation.Row.self) {
                return Conversation(row)
            }
            return nil
        }
    }

    /// The user's conversations, most recently active first.
    ///
    /// - Parameters:
    ///   - limit: Page size.
    ///   - after: The position after which to continue: the previous page's `nextCursor`,
    ///     parsed with ``ConversationCursor/init(_:)``.
    public func conversations(userID: UUID, limit: Int, after cursor: ConversationCursor?) async throws -> Page<Conversation> {
        let query: PostgresQuery =
            if let cursor {
                """
                SELECT \(unescaped: Conversation.columns) FROM conversations
                WHERE user_id = \(userID)
                  AND (updated_at, id) < (timestamptz 'epoch' + \(cursor.updatedAtMicros) * interval '1 microsecond', \(cursor.id))
                ORDER BY updated_at DESC, id DESC
                LIMIT \(limit + 1)
                """
            } else {
                """
                SELECT \(unescaped: Conversation.columns) FROM conversations
                WHERE user_id = \(userID)
                ORDER BY updated_at DESC, id DESC
                LIMIT \(limit + 1)
                """
            }
        var items = try await database.withConnection { connection in
            var items: [Conversation] = []
            for try await row in try await connection.query(query, logger: logger).decode(Conversation.Row.self) {
                items.append(Conversation(row))
            }
            return items
        }
        guard items.count > limit else { return Page(items: items, nextCursor: nil) }
        items.removeLast()
        return Page(items: items, nextCursor: items.last.map { ConversationCursor($0).description })
    }

    /// Deletes the conversation with its messages (and their uploads),
    /// audited from `origin` in the same transaction. False when `userID`
    /// does not own it.
    public func deleteConversation(id: UUID, userID: UUID, origin: AuditOrigin) async throws -> Bool {
        try await database.transaction { connection in
            let rows = try await connection.query(
                "DELETE FROM conversations WHERE id = \(id) AND user_id = \(userID) RETURNING id",
                logger: logger
            )
            for try await _ in rows.decode(UUID.self) {
                try await audit.recordAudit(
                    AuditEvent(action: .conversationDeleted, userID: userID, origin: origin, detail: ["conversation_id": id.uuidString.lowercased()]),
                    on: connection
                )
                return true
            }
            return false
        }
    }
}

extension Conversation {
    /// The columns a conversation is read from, in ``Row``'s order: the one
    /// place they are listed.
    static let columns = "id, user_id, title, created_at, updated_at"
    /// One row of ``columns``.
    typealias Row = (UUID, UUID, String, Date, Date)

    init(_ row: Row) {
        self.init(id: row.0, userID: row.1, title: row.2, createdAt: row.3, updatedAt: row.4)
    }
}

/// The opaque position in a newest-first conversation list: `(updated_at, id)` of the last item seen.
public struct ConversationCursor: Sendable, Hashable, CustomStringConvertible {
    var updatedAtMicros: Int64
    var id: UUID

    init(_ conversation: Conversation) {
        // Postgres keeps microseconds; round the Date back to them.
        updatedAtMicros = Int64((conversation.updatedAt.timeIntervalSince1970 * 1_000_000).rounded())
        id = conversation.id
    }

    /// Parses a cursor a client sent back; nil when it is not one of ours.
    public init?(_ text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
            let decoded = String(data: data, encoding: .utf8)
        else { return nil }
        let parts = decoded.split(separator: ":")
        guard parts.count == 2, let micros = Int64(parts[0]), Self.issuable.contains(micros), let id = UUID(uuidString: String(parts[1]))
        else { return nil }
        updatedAtMicros = micros
        self.id = id
    }

    /// The times a cursor can name (1970 to 9999, in microseconds): a forged
    /// one beyond PostgreSQL's timestamps would fail the query, not find nothing.
    static let issuable: ClosedRange<Int64> = 0...253_402_300_799_999_999

    /// The cursor as a URL-safe string.
    public var description: String {
        Data("\(updatedAtMicros):\(id.uuidString.lowercased())".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
