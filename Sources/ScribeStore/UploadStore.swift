import Foundation
import Logging
import NIOCore
import PostgresNIO
import ScribePostgres

/// A file to enqueue: its name, its sniffed type and where its bytes are.
public struct NewUpload: Sendable {
    /// Where a new upload's bytes are.
    public enum Storage: Sendable {
        /// In memory, stored with the upload's row (small files: tests, tools).
        case bytes(ByteBuffer)
        /// Already in `upload_chunks` under `uploadID`, the upload's id to be
        /// (``UploadChunkStore``): how the API stores what it streams in.
        /// `whole` is the file when it fitted in one chunk.
        case chunks(uploadID: UUID, count: Int, whole: ByteBuffer?)
    }

    public var filename: String
    public var contentType: String
    public var size: Int
    public var storage: Storage

    /// A file whose bytes are in memory.
    public init(filename: String, contentType: String, bytes: ByteBuffer) {
        self.filename = filename
        self.contentType = contentType
        self.size = bytes.readableBytes
        self.storage = .bytes(bytes)
    }

    /// A file whose `chunkCount` chunks are staged under `uploadID`.
    public init(filename: String, contentType: String, stagedAs uploadID: UUID, size: Int, chunkCount: Int, whole: ByteBuffer?) {
        self.filename = filename
        self.contentType = contentType
        self.size = size
        self.storage = .chunks(uploadID: uploadID, count: chunkCount, whole: whole)
    }

    /// The whole file, when it is in memory.
    public var bytes: ByteBuffer? {
        switch storage {
        case .bytes(let bytes): bytes
        case .chunks(_, _, let whole): whole
        }
    }

    /// The id its chunks are staged under, if they are.
    public var stagedUploadID: UUID? {
        if case .chunks(let id, _, _) = storage { return id }
        return nil
    }

    var payload: ByteBuffer? {
        if case .bytes(let bytes) = storage { return bytes }
        return nil
    }

    var chunkCount: Int? {
        if case .chunks(_, let count, _) = storage { return count }
        return nil
    }
}

/// What the upload endpoint answers for one enqueued file.
public struct EnqueuedUpload: Sendable, Hashable {
    public var messageID: UUID
    /// The upload's id: `GET /v1/jobs/{id}` tells its whole story.
    public var uploadID: UUID
    public var conversationID: UUID
    public var filename: String
    public var status: MessageStatus

    public init(messageID: UUID, uploadID: UUID, conversationID: UUID, filename: String, status: MessageStatus) {
        self.messageID = messageID
        self.uploadID = uploadID
        self.conversationID = conversationID
        self.filename = filename
        self.status = status
    }
}

/// An uploaded file as stored (`uploads`), without its bytes.
public struct UploadRecord: Sendable, Hashable {
    public var id: UUID
    public var userID: UUID
    public var conversationID: UUID
    public var messageID: UUID
    public var filename: String
    public var contentType: String
    public var size: Int
    public var pageCount: Int?
    public var ocrJobID: UUID?
    public var answerJobID: UUID?
    public var createdAt: Date
    public var answeredAt: Date?
    /// How many chunks hold its bytes (nil: they are in its row, or dropped).
    public var chunkCount: Int?

    public init(
        id: UUID, userID: UUID, conversationID: UUID, messageID: UUID, filename: String, contentType: String, size: Int,
        pageCount: Int? = nil, ocrJobID: UUID? = nil, answerJobID: UUID? = nil, createdAt: Date = Date(), answeredAt: Date? = nil,
        chunkCount: Int? = nil
    ) {
        self.chunkCount = chunkCount
        self.id = id
        self.userID = userID
        self.conversationID = conversationID
        self.messageID = messageID
        self.filename = filename
        self.contentType = contentType
        self.size = size
        self.pageCount = pageCount
        self.ocrJobID = ocrJobID
        self.answerJobID = answerJobID
        self.createdAt = createdAt
        self.answeredAt = answeredAt
    }

    static let columns = """
        id, user_id, conversation_id, message_id, filename, content_type, size, page_count,
        ocr_job_id, answer_job_id, created_at, answered_at, chunk_count
        """
    typealias Row = (UUID, UUID, UUID, UUID, String, String, Int, Int?, UUID?, UUID?, Date, Date?, Int?)

    init(row: Row) {
        self.init(
            id: row.0, userID: row.1, conversationID: row.2, messageID: row.3, filename: row.4, contentType: row.5, size: row.6,
            pageCount: row.7, ocrJobID: row.8, answerJobID: row.9, createdAt: row.10, answeredAt: row.11, chunkCount: row.12
        )
    }
}

/// A message's status change for the uploads behind it (see ``UploadStore/setUploadMessages(_:on:)``).
public struct UploadMessageStatus: Sendable {
    public var uploadID: UUID
    public var status: MessageStatus
    /// The sentence shown on a failed message.
    public var error: String?

    public init(uploadID: UUID, status: MessageStatus, error: String? = nil) {
        self.uploadID = uploadID
        self.status = status
        self.error = error
    }
}

/// The uploads' SQL: the file, its message, its checkpoint and its answer.
/// The methods that take a connection run inside the caller's transaction,
/// beside the queue's statement that guards it with the job's lease.
public struct UploadStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// How many counter rows one person's files in flight are counted on, so
    /// that as many of their uploads commit at once (sql/020's
    /// `scribe_files_in_flight_shards()`, which a test holds this to).
    public static let filesInFlightRows = 8

    /// Where an upload's question and answer messages are written, in the caller's transaction.
    var messages: MessageStore { MessageStore(database: database, logger: logger) }

    // MARK: Enqueue (in the caller's transaction)

    /// Stores one uploaded file, if `conversationID` is `userID`'s: its user
    /// message (`queued`, with the attachment and the caption) and the upload
    /// row with its bytes, in one statement. When the text is already known
    /// (a plain-text file), it is stored as the checkpoint and the message
    /// starts at the `llm` stage.
    ///
    /// The file counts against the person's files in flight when the
    /// transaction commits, and the commit fails with ``FilesInFlightLimitReached``'s
    /// SQLSTATE (see ``FilesInFlightLimitReached/init(_:limit:)``) if that would
    /// pass `filesInFlightCap` (nil: counted, no cap).
    ///
    /// - Throws: ``StoreError`` `.notFound` (and nothing is written) when the
    ///   conversation is not the user's.
    public func insertUpload(
        id: UUID,
        userID: UUID,
        conversationID: UUID,
        caption: String?,
        file: NewUpload,
        idempotencyKey: String?,
        requestPosition: Int,
        knownText: (text: String, pages: [AttachmentPage])?,
        ocrJobID: UUID?,
        answerJobID: UUID?,
        filesInFlightCap: Int? = nil,
        on connection: PostgresConnection
    ) async throws -> Message {
        let attachment = Attachment(
            filename: file.filename,
            contentType: file.contentType,
            size: file.size,
            pages: knownText?.pages.count,
            pagesRead: knownText?.pages.count,
            pageDetails: knownText?.pages
        )
        let stage = knownText == nil ? Stage.queued : .llm
        // The file counts against the person's files in flight from the commit,
        // which refuses it past `filesInFlightCap` (sql/019, sql/020).
        let cap = filesInFlightCap.map(String.init) ?? "none"
        // The conversation's check, the message and the upload in one round trip:
        // the statements of an upload are what its transaction waits on. The
        // check is a plain read, not an UPDATE: concurrent uploads to one
        // conversation must not queue on its row lock (the message's foreign
        // key holds a KEY SHARE lock against a concurrent delete).
        let rows = try await connection.query(
            """
            WITH cap AS (SELECT set_config('scribe.max_files_in_flight', \(cap), true)),
            conversation AS (SELECT id FROM conversations WHERE id = \(conversationID) AND user_id = \(userID)),
            message AS (
                INSERT INTO messages AS m (id, conversation_id, role, content, status, stage, attachments, metadata, sources, document_text)
                SELECT \(UUID.v7()), conversation.id, \(MessageRole.user), \(caption ?? ""), \(MessageStatus.queued), \(stage),
                       \(JSONColumn.encode([attachment]))::jsonb, \(JSONColumn.encode(MessageMetadata()))::jsonb,
                       \(JSONColumn.encode([MessageSource]()))::jsonb, \(knownText?.text)
                FROM conversation
                RETURNING m.*
            ),
            upload AS (
                INSERT INTO uploads (id, user_id, conversation_id, message_id, filename, content_type, size, payload, chunk_count,
                                     idempotency_key, request_position, document_text, page_count, ocr_job_id, answer_job_id, passages_at)
                SELECT \(id), \(userID), \(conversationID), message.id, \(file.filename), \(file.contentType),
                       \(file.size), \(file.payload), \(file.chunkCount), \(idempotencyKey), \(requestPosition),
                       \(knownText?.text), \(knownText?.pages.count), \(ocrJobID), \(answerJobID),
                       CASE WHEN \(knownText != nil) THEN now() END
                FROM message, cap
            )
            SELECT \(unescaped: Message.columns) FROM message m
            """,
            logger: logger
        )
        guard let message = try await Message.decode(rows).first else {
            throw StoreError(.notFound, "Conversation not found.")
        }
        return message
    }

    /// The answer of an earlier upload request made with `idempotencyKey`, if any.
    public func uploads(userID: UUID, idempotencyKey: String) async throws -> [EnqueuedUpload]? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: EnqueuedUpload.columns) FROM uploads
                WHERE user_id = \(userID) AND idempotency_key = \(idempotencyKey)
                ORDER BY request_position
                """,
                logger: logger
            )
            var uploads: [EnqueuedUpload] = []
            for try await (messageID, uploadID, conversationID, filename) in rows.decode(EnqueuedUpload.Row.self) {
                uploads.append(
                    EnqueuedUpload(messageID: messageID, uploadID: uploadID, conversationID: conversationID, filename: filename, status: .queued)
                )
            }
            return uploads.isEmpty ? nil : uploads
        }
    }

    // MARK: Stages

    /// The upload `id` (any owner's: for the worker), or nil.
    public func upload(id: UUID) async throws -> UploadRecord? {
        try await database.withConnection { connection in
            try await Self.upload(connection.query("SELECT \(unescaped: UploadRecord.columns) FROM uploads WHERE id = \(id)", logger: logger))
        }
    }

    /// The upload `id` if `userID` owns it, else nil.
    public func upload(id: UUID, userID: UUID) async throws -> UploadRecord? {
        try await database.withConnection { connection in
            try await Self.upload(
                connection.query("SELECT \(unescaped: UploadRecord.columns) FROM uploads WHERE id = \(id) AND user_id = \(userID)", logger: logger)
            )
        }
    }

    private static func upload(_ rows: PostgresRowSequence) async throws -> UploadRecord? {
        for try await row in rows.decode(UploadRecord.Row.self) { return UploadRecord(row: row) }
        return nil
    }

    /// The uploaded bytes (nil once they have been dropped).
    ///
    /// An upload may be tens of megabytes, so reading it gets ten times the
    /// database's timeout.
    public func payload(ofUpload id: UUID) async throws -> ByteBuffer? {
        try await database.withConnection(timeout: database.options.timeout * 10) { connection in
            let rows = try await connection.query("SELECT payload FROM uploads WHERE id = \(id)", logger: logger)
            for try await payload in rows.decode(ByteBuffer?.self) { return payload }
            return nil
        }
    }

    /// Shows that the file's `stage` (`ocr`, `llm`) has begun: the message
    /// becomes `processing`. A message already done or failed is left alone.
    public func startStage(_ stage: Stage, messageID: UUID) async throws {
        _ = try await database.withConnection { connection in
            try await connection.query(
                """
                UPDATE messages SET status = 'processing', stage = \(stage), updated_at = now()
                WHERE id = \(messageID) AND status IN ('queued', 'processing')
                """,
                logger: logger
            )
        }
    }

    /// Shows how far the reading of a file has got (`pages_read` of `pages` on
    /// its attachment), while its message is at the `ocr` stage.
    public func reportReadingProgress(messageID: UUID, pagesRead: Int, pageCount: Int) async throws {
        _ = try await database.withConnection { connection in
            try await connection.query(
                """
                UPDATE messages m SET updated_at = now(),
                       attachments = jsonb_set(m.attachments, '{0}', m.attachments->0
                                     || jsonb_build_object('pages', \(pageCount)::int, 'pages_read', \(pagesRead)::int))
                WHERE m.id = \(messageID) AND m.status = 'processing' AND m.stage = 'ocr' AND jsonb_array_length(m.attachments) > 0
                """,
                logger: logger
            )
        }
    }

    /// Stores the recognised text (the OCR checkpoint) on the upload and on
    /// its message, with the page count and how each page was read on the
    /// message's attachment, and moves the message to the `llm` stage.
    public func checkpointText(
        uploadID: UUID,
        text: String,
        pages: [AttachmentPage],
        answerJobID: UUID,
        on connection: PostgresConnection
    ) async throws {
        let pageCount = pages.count
        try await connection.query(
            """
            WITH upload AS (
                UPDATE uploads SET document_text = \(text), page_count = \(pageCount), answer_job_id = \(answerJobID),
                       passages_at = now()
                WHERE id = \(uploadID)
                RETURNING message_id
            )
            UPDATE messages m SET document_text = \(text), stage = 'llm', updated_at = now(),
                   attachments = CASE WHEN jsonb_array_length(m.attachments) > 0
                                 THEN jsonb_set(m.attachments, '{0}', m.attachments->0
                                      || jsonb_build_object('pages', \(pageCount)::int, 'pages_read', \(pageCount)::int,
                                                            'page_details', \(JSONColumn.encode(pages))::jsonb))
                                 ELSE m.attachments END
            FROM upload WHERE m.id = upload.message_id
            """,
            logger: logger
        )
    }

    /// The answer to an upload: the assistant's message (`reply_to` the user
    /// message), the user message `done`, the conversation touched, the
    /// upload answered (its bytes dropped when `dropPayload`).
    public func writeAnswer(
        to question: Message,
        uploadID: UUID,
        answer: String,
        metadata: MessageMetadata,
        sources: [MessageSource] = [],
        dropPayload: Bool,
        on connection: PostgresConnection
    ) async throws {
        _ = try await messages.insertMessage(
            conversationID: question.conversationID,
            role: .assistant,
            content: answer,
            status: .done,
            replyTo: question.id,
            metadata: metadata,
            sources: sources,
            on: connection
        )
        try await connection.query(
            """
            WITH message AS (
                UPDATE messages SET status = 'done', stage = NULL, error = NULL, updated_at = now() WHERE id = \(question.id)
            ), upload AS (
                UPDATE uploads SET answered_at = now(), payload = CASE WHEN \(dropPayload) THEN NULL ELSE payload END,
                       chunk_count = CASE WHEN \(dropPayload) THEN NULL ELSE chunk_count END
                WHERE id = \(uploadID)
            ), chunks AS (
                DELETE FROM upload_chunks WHERE upload_id = \(uploadID) AND \(dropPayload)
            )
            UPDATE conversations SET updated_at = now() WHERE id = \(question.conversationID)
            """,
            logger: logger
        )
    }

    /// Sets the status (and, when failed, the sentence) of the messages of
    /// these uploads: what a failed, handed-back or rescued stage job shows.
    public func setUploadMessages(_ changes: [UploadMessageStatus], on connection: PostgresConnection) async throws {
        guard !changes.isEmpty else { return }
        try await connection.query(
            """
            UPDATE messages m SET status = c.status, error = nullif(c.error, ''), updated_at = now()
            FROM uploads u, unnest(\(changes.map(\.uploadID)), \(changes.map(\.status.rawValue)), \(changes.map { $0.error ?? "" }))
                 AS c(upload_id, status, error)
            WHERE u.id = c.upload_id AND m.id = u.message_id AND m.status <> 'done'
            """,
            logger: logger
        )
    }

    /// Drops the bytes of up to 1000 uploads answered more than `retention` ago; returns how many.
    public func dropAnsweredPayloads(olderThan retention: Duration) async throws -> Int {
        try await database.withConnection { connection in
            try await connection.query(
                """
                WITH dropped AS (
                    UPDATE uploads SET payload = NULL, chunk_count = NULL
                    WHERE id IN (
                        SELECT id FROM uploads WHERE (payload IS NOT NULL OR chunk_count IS NOT NULL) AND answered_at IS NOT NULL
                          AND answered_at < now() - make_interval(secs => \(retention / .seconds(1)))
                        LIMIT 1000
                    )
                    RETURNING id
                ), chunks AS (
                    DELETE FROM upload_chunks WHERE upload_id IN (SELECT id FROM dropped)
                )
                SELECT id FROM dropped
                """,
                logger: logger
            ).collect().count
        }
    }
}

extension EnqueuedUpload {
    /// The columns an earlier upload's answer is rebuilt from (an
    /// idempotent retry), in ``Row``'s order.
    static let columns = "message_id, id, conversation_id, filename"
    /// One row of ``columns``.
    typealias Row = (UUID, UUID, UUID, String)
}
