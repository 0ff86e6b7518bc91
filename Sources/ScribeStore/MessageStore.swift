import Foundation
import Logging
import NIOCore
import PostgresNIO
import ScribePostgres

/// The messages' SQL: the history as the API renders it, a chat's question and answer, and failures.
public struct MessageStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Where a chat without a conversation starts one.
    var conversations: ConversationStore { ConversationStore(database: database, logger: logger) }

    /// The daily count a chat is charged to, in the same transaction.
    var usage: UsageStore { UsageStore(database: database, logger: logger) }
    /// One page of a conversation's history, oldest first, as the JSON array
    /// elements of the API's page (`{…},{…}`), or nil when `userID` does not
    /// own the conversation.
    ///
    /// Each message's JSON is rendered once, when the row is written (the
    /// `messages_render` trigger of `sql/003_rendered_messages.sql`); this one
    /// statement checks ownership, picks the page and joins the stored texts,
    /// and the bytes go to the client without being decoded or re-encoded.
    ///
    /// - Parameter after: The id of the last message already seen (the previous page's `nextCursor`).
    public func renderedMessages(conversationID: UUID, userID: UUID, limit: Int, after: UUID?) async throws -> RenderedPage? {
        let page = HistoryPageStatement(
            conversationID: conversationID,
            userID: userID,
            after: after ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
            limit: limit
        )
        return try await database.withConnection { connection in
            for try await (elements, hasMore, lastOnPage) in try await connection.execute(page, logger: logger) {
                return RenderedPage(elements: elements, nextCursor: hasMore ? lastOnPage?.uuidString.lowercased() : nil)
            }
            return nil
        }
    }

    /// The message `id` as its API JSON (rendered when it was written) if it is
    /// in a conversation `userID` owns, else nil.
    public func renderedMessage(id: UUID, userID: UUID) async throws -> ByteBuffer? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT m.rendered FROM messages m
                JOIN conversations c ON c.id = m.conversation_id
                WHERE m.id = \(id) AND c.user_id = \(userID)
                """,
                logger: logger
            )
            for try await json in rows.decode(ByteBuffer.self) { return json }
            return nil
        }
    }

    /// The message `id`, whoever owns it: for workers, which act for the system.
    public func message(id: UUID) async throws -> Message? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                "SELECT \(unescaped: Message.columns) FROM messages m WHERE m.id = \(id)",
                logger: logger
            )
            return try await Message.decode(rows).first
        }
    }

    /// Stores the user's text message as `processing`, creating the conversation
    /// (titled `newTitle`) when `conversationID` is nil, in one transaction,
    /// which also counts it against `dailyLimit` when there is one.
    ///
    /// Throws ``StoreError`` `.notFound` when `conversationID` is not the
    /// user's, and ``DailyLimitReached`` when the user has no requests left
    /// today; nothing is written then.
    public func startChat(
        userID: UUID,
        conversationID: UUID?,
        text: String,
        newTitle: @autoclosure () -> String,
        dailyLimit: Int? = nil
    ) async throws -> (conversation: Conversation, message: Message) {
        let title = newTitle()
        return try await database.transaction { connection in
            let conversation: Conversation
            if let conversationID {
                let rows = try await connection.query(
                    """
                    UPDATE conversations SET updated_at = now()
                    WHERE id = \(conversationID) AND user_id = \(userID)
                    RETURNING \(unescaped: Conversation.columns)
                    """,
                    logger: logger
                )
                var found: Conversation?
                for try await row in rows.decode(Conversation.Row.self) { found = Conversation(row) }
                guard let found else { throw StoreError(.notFound, "Conversation not found.") }
                conversation = found
            } else {
                conversation = try await conversations.createConversation(userID: userID, title: title, on: connection)
            }
            let message = try await insertMessage(
                conversationID: conversation.id,
                role: .user,
                content: text,
                status: .processing,
                stage: .llm,
                on: connection
            )
            if let dailyLimit {
                _ = try await usage.chargeDailyRequests(1, userID: userID, limit: dailyLimit, on: connection)
            }
            return (conversation, message)
        }
    }

    /// Inserts one message and returns it as stored.
    func insertMessage(
        conversationID: UUID,
        role: MessageRole,
        content: String,
        status: MessageStatus,
        stage: Stage? = nil,
        replyTo: UUID? = nil,
        attachments: [Attachment] = [],
        metadata: MessageMetadata = MessageMetadata(),
        sources: [MessageSource] = [],
        on connection: PostgresConnection
    ) async throws -> Message {
        let id = UUID.v7()
        let rows = try await connection.query(
            """
            INSERT INTO messages AS m (id, conversation_id, role, content, status, stage, reply_to, attachments, metadata, sources)
            VALUES (\(id), \(conversationID), \(role), \(content), \(status), \(stage), \(replyTo),
                    \(JSONColumn.encode(attachments))::jsonb, \(JSONColumn.encode(metadata))::jsonb, \(JSONColumn.encode(sources))::jsonb)
            RETURNING \(unescaped: Message.columns)
            """,
            logger: logger
        )
        guard let message = try await Message.decode(rows).first else {
            throw StoreError(.notFound, "The new message was not returned.")
        }
        return message
    }

    /// The conversation's settled history up to and including `messageID`, newest
    /// `limit` messages, returned oldest first: what the LLM sees as context.
    ///
    /// Failed and in-progress messages other than `messageID` itself are left out:
    /// they have no answer and would confuse the model.
    public func history(conversationID: UUID, through messageID: UUID, limit: Int) async throws -> [Message] {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Message.columns) FROM messages m
                WHERE m.conversation_id = \(conversationID) AND m.id <= \(messageID)
                  AND (m.status = 'done' OR m.id = \(messageID))
                ORDER BY m.id DESC
                LIMIT \(limit)
                """,
                logger: logger
            )
            return try await Message.decode(rows).reversed()
        }
    }

    /// Stores the assistant's answer to `userMessageID` and marks that message
    /// `done`, in one transaction. The unique `reply_to` makes a second answer
    /// impossible: it throws ``StoreError`` `.conflict`.
    public func finishChat(
        userMessageID: UUID,
        conversationID: UUID,
        answer: String,
        metadata: MessageMetadata,
        sources: [MessageSource] = []
    ) async throws -> (userMessage: Message, assistantMessage: Message) {
        do {
            return try await database.transaction { connection in
                let assistant = try await insertMessage(
                    conversationID: conversationID,
                    role: .assistant,
                    content: answer,
                    status: .done,
                    replyTo: userMessageID,
                    metadata: metadata,
                    sources: sources,
                    on: connection
                )
                let rows = try await connection.query(
                    """
                    UPDATE messages AS m SET status = 'done', stage = NULL, error = NULL, updated_at = now()
                    WHERE m.id = \(userMessageID)
                    RETURNING \(unescaped: Message.columns)
                    """,
                    logger: logger
                )
                guard let user = try await Message.decode(rows).first else {
                    throw StoreError(.notFound, "The message was deleted while it was being answered.")
                }
                try await connection.query(
                    "UPDATE conversations SET updated_at = now() WHERE id = \(conversationID)",
                    logger: logger
                )
                return (user, assistant)
            }
        } catch let error as PSQLError where error.isUniqueViolation {
            throw StoreError(.conflict, "This message has already been answered.", field: "reply_to")
        }
    }

    /// Marks a message `failed` with a readable `error`, and returns it.
    @discardableResult
    public func failMessage(id: UUID, error: String) async throws -> Message? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                UPDATE messages AS m SET status = 'failed', error = \(error), updated_at = now()
                WHERE m.id = \(id)
                RETURNING \(unescaped: Message.columns)
                """,
                logger: logger
            )
            return try await Message.decode(rows).first
        }
    }

    /// Fails the synchronous chats whose answer never came: user messages
    /// still `processing` with no job behind them (uploads have jobs, which
    /// the queue's rescuer looks after) and untouched for `age`. Their request
    /// ended without writing the answer: its API process died, or the database
    /// went away between the question and the answer. Returns how many.
    public func failAbandonedChats(olderThan age: Duration) async throws -> Int {
        try await database.withConnection { connection in
            try await connection.query(
                """
                UPDATE messages m SET status = 'failed', stage = NULL, updated_at = now(),
                       error = 'The answer to this message was interrupted; please send it again.'
                WHERE m.id IN (
                    SELECT p.id FROM messages p
                    WHERE p.status = 'processing' AND p.role = 'user'
                      AND p.updated_at < now() - make_interval(secs => \(age / .seconds(1)))
                      AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.message_id = p.id)
                    ORDER BY p.updated_at LIMIT 1000
                )
                AND m.status = 'processing'
                RETURNING m.id
                """,
                logger: logger
            ).collect().count
        }
    }
}

extension Message {
    /// The columns a message is read from (aliased `m`), in ``Row``'s order: the one place they are listed.
    static let columns = """
        m.id, m.conversation_id, m.role, m.content, m.status, m.stage, m.error, m.reply_to,
        m.attachments::text, m.metadata::text, m.created_at, m.updated_at, m.document_text, m.sources::text
        """
    /// One row of ``columns``.
    typealias Row = (UUID, UUID, MessageRole, String, MessageStatus, Stage?, String?, UUID?, String, String, Date, Date, String?, String)

    /// Every message of `rows`, read as ``columns``.
    static func decode(_ rows: PostgresRowSequence) async throws -> [Message] {
        var messages: [Message] = []
        for try await row in rows.decode(Row.self) { messages.append(Message(row: row)) }
        return messages
    }

    init(row: Row) {
        self.init(
            id: row.0,
            conversationID: row.1,
            role: row.2,
            content: row.3,
            status: row.4,
            stage: row.5,
            error: row.6,
            replyTo: row.7,
            attachments: JSONColumn.decode([Attachment].self, from: row.8, default: []),
            metadata: JSONColumn.decode(MessageMetadata.self, from: row.9, default: MessageMetadata()),
            createdAt: row.10,
            updatedAt: row.11,
            documentText: row.12,
            sources: JSONColumn.decode([MessageSource].self, from: row.13, default: [])
        )
    }
}

/// The history page query as a named prepared statement: it runs thousands of
/// times a second, so each connection parses it once and Postgres reuses its plan.
struct HistoryPageStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT coalesce(string_agg(m.rendered, ',' ORDER BY m.id) FILTER (WHERE m.position <= $4), ''),
               count(m.id) > $4,
               (array_agg(m.id ORDER BY m.id))[$4]
        FROM conversations c
        LEFT JOIN LATERAL (
            SELECT id, rendered, row_number() OVER (ORDER BY id) AS position FROM messages
            WHERE conversation_id = c.id AND id > $3 ORDER BY id LIMIT $4 + 1
        ) m ON true
        WHERE c.id = $1 AND c.user_id = $2
        GROUP BY c.id
        """

    typealias Row = (ByteBuffer, Bool, UUID?)

    var conversationID: UUID
    var userID: UUID
    var after: UUID
    var limit: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(conversationID)
        bindings.append(userID)
        bindings.append(after)
        bindings.append(limit)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
