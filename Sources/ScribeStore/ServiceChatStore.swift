import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// A message a service (a bot) sent for one of its people, as started.
public struct StartedServiceChat: Sendable {
    /// The person, a user of their own, created on their first message.
    public var userID: UUID
    /// Their one conversation.
    public var conversation: Conversation
    /// The message, `processing` until it is answered.
    public var message: Message
    /// Their allowance after this message was counted; nil when there is no limit (nothing is counted then).
    public var allowance: DailyAllowance?
}

/// The people services act for: each a user of their own, named by the
/// service and the id the service knows them by, with one conversation.
public struct ServiceChatStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Where a person's first message starts their conversation.
    var conversations: ConversationStore { ConversationStore(database: database, logger: logger) }

    /// Where the message is written.
    var messages: MessageStore { MessageStore(database: database, logger: logger) }

    /// The daily count a message is charged to, in the same transaction.
    var usage: UsageStore { UsageStore(database: database, logger: logger) }
    /// Stores `text` from the person `externalID` of `service` as a
    /// `processing` message in their one conversation, counting it against
    /// their daily `limit` (if there is one), in one transaction. The person and the
    /// conversation are created on first use; concurrent first messages of
    /// one person still make one of each (the person's row is locked first).
    ///
    /// - Throws: ``DailyLimitReached`` when the person has no requests left
    ///   today; nothing is written then.
    public func startServiceChat(
        service: String,
        externalID: String,
        text: String,
        title: String,
        limit: Int?
    ) async throws -> StartedServiceChat {
        try await database.transaction { connection in
            let userID = try await externalUser(service: service, externalID: externalID, on: connection)
            let conversation = try await serviceConversation(of: userID, title: title, on: connection)
            let allowance = try await limit.asyncMap { try await usage.chargeDailyRequests(1, userID: userID, limit: $0, on: connection) }
            let message = try await messages.insertMessage(
                conversationID: conversation.id,
                role: .user,
                content: text,
                status: .processing,
                stage: .llm,
                on: connection
            )
            return StartedServiceChat(userID: userID, conversation: conversation, message: message, allowance: allowance)
        }
    }

    /// The user that stands for `externalID` of `service`, created if new,
    /// and locked for the rest of the transaction.
    func externalUser(service: String, externalID: String, on connection: PostgresConnection) async throws -> UUID {
        let rows = try await connection.query(
            """
            INSERT INTO users (id, service, external_id) VALUES (\(UUID.v7()), \(service), \(externalID))
            ON CONFLICT (service, external_id) DO UPDATE SET service = excluded.service
            RETURNING id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { return id }
        throw StoreError(.notFound, "The person was not returned.")
    }

    /// The person's one conversation (their first), touched, or a new one titled `title`.
    func serviceConversation(of userID: UUID, title: String, on connection: PostgresConnection) async throws -> Conversation {
        let rows = try await connection.query(
            """
            UPDATE conversations SET updated_at = now()
            WHERE id = (SELECT id FROM conversations WHERE user_id = \(userID) ORDER BY id LIMIT 1)
            RETURNING \(unescaped: Conversation.columns)
            """,
            logger: logger
        )
        for try await row in rows.decode(Conversation.Row.self) { return Conversation(row) }
        return try await conversations.createConversation(userID: userID, title: title, on: connection)
    }
}

extension Optional {
    /// The wrapped value transformed by an async function, or nil.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
