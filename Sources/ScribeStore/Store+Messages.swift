import Foundation
import PostgresNIO

extension Store {
    /// The columns a ``Message`` is read from, in the order ``Message/init(row:)`` expects.
    static let messageColumns = """
        m.id, m.conversation_id, m.role, m.content, m.status, m.stage, m.error, m.reply_to,
        m.attachments::text, m.metadata::text, m.created_at, m.updated_at, m.document_text
        """

    typealias MessageRow = (UUID, UUID, MessageRole, String, MessageStatus, String?, String?, UUID?, String, String, Date, Date, String?)


    /// A message as the API's JSON, rendered by Postgres: the hot history poll
    /// sends these bytes as they are, with no decoding or re-encoding in Swift.
    /// Keys and formats match the API's message shape (snake_case, lowercase
    /// ids, RFC 3339 UTC timestamps with milliseconds, null for absent values).
    static let messageJSON = """
        json_build_object(
            'id', m.id, 'conversation_id', m.conversation_id, 'role', m.role, 'content', m.content,
            'status', m.status, 'stage', m.stage, 'error', m.error, 'reply_to', m.reply_to,
            'attachments', m.attachments,
            'metadata', CASE WHEN m.metadata = '{}'::jsonb THEN NULL ELSE m.metadata END,
            'created_at', to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'updated_at', to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'document_text', m.document_text
        )::text
        """

    /// One page of a conversation's history, oldest first, each message as
    /// its API JSON (see ``messageJSON``); nil when `userID` does not own the
    /// conversation.
    ///
    /// One statement: the ownership check and the page come back together
    /// (a conversation row with no page row is an empty page).
    ///
    /// - Parameter after: The id of the last message already seen (the previous page's `nextCursor`).
    public func renderedMessages(conversationID: UUID, userID: UUID, limit: Int, after: UUID?) async throws -> Page<String>? {
        let after = after ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        let rows = try await client.query(
            """
            SELECT m.id, \(unescaped: Self.messageJSON) FROM conversations c
            LEFT JOIN LATERAL (
                SELECT * FROM messages WHERE conversation_id = c.id AND id > \(after) ORDER BY id LIMIT \(limit + 1)
            ) m ON true
            WHERE c.id = \(conversationID) AND c.user_id = \(userID)
            ORDER BY m.id
            """,
            logger: logger
        )
        var owned = false
        var ids: [UUID] = []
        var items: [String] = []
        for try await (id, json) in rows.decode((UUID?, String?).self) {
            owned = true
            if let id, let json {
                ids.append(id)
                items.append(json)
            }
        }
        guard owned else { return nil }
        guard items.count > limit else { return Page(items: items, nextCursor: nil) }
        items.removeLast()
        return Page(items: items, nextCursor: ids[limit - 1].uuidString.lowercased())
    }

    /// The message `id` as its API JSON if it is in a conversation `userID` owns, else nil.
    public func renderedMessage(id: UUID, userID: UUID) async throws -> String? {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.messageJSON) FROM messages m
            JOIN conversations c ON c.id = m.conversation_id
            WHERE m.id = \(id) AND c.user_id = \(userID)
            """,
            logger: logger
        )
        for try await json in rows.decode(String.self) { return json }
        return nil
    }

    /// The message `id`, whoever owns it: for workers, which act for the system.
    public func message(id: UUID) async throws -> Message? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.messageColumns) FROM messages m WHERE m.id = \(id)",
            logger: logger
        )
        return try await Self.decodeMessages(rows).first
    }

    /// Stores the user's text message as `processing`, creating the conversation
    /// (titled `newTitle`) when `conversationID` is nil, in one transaction.
    ///
    /// Throws ``StoreError`` `.notFound` when `conversationID` is not the user's.
    public func startChat(
        userID: UUID,
        conversationID: UUID?,
        text: String,
        newTitle: @autoclosure () -> String
    ) async throws -> (conversation: Conversation, message: Message) {
        let title = newTitle()
        return try await transaction { connection in
            let conversation: Conversation
            if let conversationID {
                let rows = try await connection.query(
                    """
                    UPDATE conversations SET updated_at = now()
                    WHERE id = \(conversationID) AND user_id = \(userID)
                    RETURNING id, user_id, title, created_at, updated_at
                    """,
                    logger: logger
                )
                var found: Conversation?
                for try await row in rows.decode((UUID, UUID, String, Date, Date).self) { found = Conversation(row) }
                guard let found else { throw StoreError(.notFound, "Conversation not found.") }
                conversation = found
            } else {
                conversation = try await createConversation(userID: userID, title: title, on: connection)
            }
            let message = try await insertMessage(
                conversationID: conversation.id,
                role: .user,
                content: text,
                status: .processing,
                stage: "llm",
                on: connection
            )
            return (conversation, message)
        }
    }

    /// Inserts one message and returns it as stored.
    func insertMessage(
        conversationID: UUID,
        role: MessageRole,
        content: String,
        status: MessageStatus,
        stage: String? = nil,
        replyTo: UUID? = nil,
        attachments: [Attachment] = [],
        metadata: MessageMetadata = MessageMetadata(),
        on connection: PostgresConnection
    ) async throws -> Message {
        let id = UUID.v7()
        let rows = try await connection.query(
            """
            INSERT INTO messages AS m (id, conversation_id, role, content, status, stage, reply_to, attachments, metadata)
            VALUES (\(id), \(conversationID), \(role), \(content), \(status), \(stage), \(replyTo),
                    \(Self.json(attachments))::jsonb, \(Self.json(metadata))::jsonb)
            RETURNING \(unescaped: Self.messageColumns)
            """,
            logger: logger
        )
        guard let message = try await Self.decodeMessages(rows).first else {
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
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.messageColumns) FROM messages m
            WHERE m.conversation_id = \(conversationID) AND m.id <= \(messageID)
              AND (m.status = 'done' OR m.id = \(messageID))
            ORDER BY m.id DESC
            LIMIT \(limit)
            """,
            logger: logger
        )
        return try await Self.decodeMessages(rows).reversed()
    }

    /// Stores the assistant's answer to `userMessageID` and marks that message
    /// `done`, in one transaction. The unique `reply_to` makes a second answer
    /// impossible: it throws ``StoreError`` `.conflict`.
    public func finishChat(
        userMessageID: UUID,
        conversationID: UUID,
        answer: String,
        metadata: MessageMetadata
    ) async throws -> (userMessage: Message, assistantMessage: Message) {
        do {
            return try await transaction { connection in
                let assistant = try await insertMessage(
                    conversationID: conversationID,
                    role: .assistant,
                    content: answer,
                    status: .done,
                    replyTo: userMessageID,
                    metadata: metadata,
                    on: connection
                )
                let rows = try await connection.query(
                    """
                    UPDATE messages AS m SET status = 'done', stage = NULL, error = NULL, updated_at = now()
                    WHERE m.id = \(userMessageID)
                    RETURNING \(unescaped: Self.messageColumns)
                    """,
                    logger: logger
                )
                guard let user = try await Self.decodeMessages(rows).first else {
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
        let rows = try await client.query(
            """
            UPDATE messages AS m SET status = 'failed', error = \(error), updated_at = now()
            WHERE m.id = \(id)
            RETURNING \(unescaped: Self.messageColumns)
            """,
            logger: logger
        )
        return try await Self.decodeMessages(rows).first
    }

    static func decodeMessages(_ rows: PostgresRowSequence) async throws -> [Message] {
        var messages: [Message] = []
        for try await row in rows.decode(MessageRow.self) {
            messages.append(Message(row: row))
        }
        return messages
    }
}

extension Message {
    init(row: Store.MessageRow) {
        self.init(
            id: row.0,
            conversationID: row.1,
            role: row.2,
            content: row.3,
            status: row.4,
            stage: row.5,
            error: row.6,
            replyTo: row.7,
            attachments: Store.decodeJSON([Attachment].self, from: row.8, default: []),
            metadata: Store.decodeJSON(MessageMetadata.self, from: row.9, default: MessageMetadata()),
            createdAt: row.10,
            updatedAt: row.11,
            documentText: row.12
        )
    }
}
