import Foundation
import Logging
import NIOCore
import PostgresNIO
import ScribePostgres

/// One page of a document read page by page, as checkpointed.
public struct UploadPage: Sendable, Hashable {
    public var page: Int
    /// Its text; empty when it had none, or was given up on.
    public var text: String
    /// How it was read; nil while it is not read yet.
    public var reading: AttachmentPage?

    public init(page: Int, text: String, reading: AttachmentPage?) {
        self.page = page
        self.text = text
        self.reading = reading
    }

    /// The columns a page is read from, in ``Row``'s order: the one place they are listed.
    static let columns = "page, coalesce(text, ''), reading::text"
    /// One row of ``columns``.
    typealias Row = (Int, String, String?)

    init(row: Row) {
        self.init(page: row.0, text: row.1, reading: row.2.map { JSONColumn.decode(AttachmentPage?.self, from: $0, default: nil) } ?? nil)
    }
}

/// The pages of long documents (`upload_pages`): each scanned page's one-page
/// PDF until it is read, then its text checkpoint. The methods that take a
/// connection run inside the caller's transaction, beside the queue's
/// statement that guards it with the job's lease.
public struct UploadPageStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Stores scanned page `page` of `uploadID` as a one-page PDF, to be read
    /// by its own job. Storing it again (a retried split) changes nothing.
    public func storeSource(uploadID: UUID, page: Int, bytes: [UInt8]) async throws {
        _ = try await database.withConnection(timeout: database.options.timeout * 4) { connection in
            try await connection.query(
                """
                INSERT INTO upload_pages (upload_id, page, source) VALUES (\(uploadID), \(page), \(ByteBuffer(bytes: bytes)))
                ON CONFLICT (upload_id, page) DO NOTHING
                """,
                logger: logger
            )
        }
    }

    /// Starts reading `uploadID` page by page: the pages already read (a
    /// text layer's) checkpointed, the upload's `ocr` job now `assemblyJobID`
    /// (the job that puts the pages together), and its message showing
    /// `pageCount` pages, those already read counted.
    public func startReading(
        uploadID: UUID,
        messageID: UUID,
        pageCount: Int,
        readPages: [UploadPage],
        assemblyJobID: UUID,
        on connection: PostgresConnection
    ) async throws {
        try await connection.query(
            """
            WITH pages AS (
                INSERT INTO upload_pages (upload_id, page, text, reading, read_at)
                SELECT \(uploadID), p.page, p.text, p.reading::jsonb, now()
                FROM unnest(\(readPages.map(\.page)), \(readPages.map(\.text)), \(readPages.map { JSONColumn.encode($0.reading) }))
                     AS p(page, text, reading)
                ON CONFLICT (upload_id, page) DO NOTHING
            )
            UPDATE uploads SET ocr_job_id = \(assemblyJobID), page_count = \(pageCount) WHERE id = \(uploadID)
            """,
            logger: logger
        )
        try await showProgress(messageID: messageID, pageCount: pageCount, pagesRead: readPages.count, on: connection)
    }

    /// The one-page PDF of page `page`, while it is not read yet.
    public func source(uploadID: UUID, page: Int) async throws -> ByteBuffer? {
        try await database.withConnection(timeout: database.options.timeout * 4) { connection in
            let rows = try await connection.query(
                "SELECT source FROM upload_pages WHERE upload_id = \(uploadID) AND page = \(page) AND read_at IS NULL",
                logger: logger
            )
            for try await source in rows.decode(ByteBuffer?.self) { return source }
            return nil
        }
    }

    /// Checkpoints page `page`'s text and reading (its one-page PDF dropped),
    /// and counts it on the message's attachment. A page already checkpointed
    /// is left as it is. Returns whether this call checkpointed it.
    @discardableResult
    public func checkpoint(
        uploadID: UUID,
        messageID: UUID,
        page: Int,
        text: String,
        reading: AttachmentPage,
        on connection: PostgresConnection
    ) async throws -> Bool {
        let rows = try await connection.query(
            """
            UPDATE upload_pages SET text = \(text), reading = \(JSONColumn.encode(reading))::jsonb, read_at = now(), source = NULL
            WHERE upload_id = \(uploadID) AND page = \(page) AND read_at IS NULL
            RETURNING page
            """,
            logger: logger
        )
        guard try await rows.collect().count == 1 else { return false }
        try await connection.query(
            """
            UPDATE messages m SET updated_at = now(),
                   attachments = jsonb_set(m.attachments, '{0}', m.attachments->0 || jsonb_build_object('pages_read', greatest(
                       coalesce((m.attachments->0->>'pages_read')::int, 0),
                       (SELECT count(*) FROM upload_pages WHERE upload_id = \(uploadID) AND read_at IS NOT NULL)::int)))
            WHERE m.id = \(messageID) AND m.status IN ('queued', 'processing') AND jsonb_array_length(m.attachments) > 0
            """,
            logger: logger
        )
        return true
    }

    /// Every page of `uploadID` checkpointed or split off, in page order.
    public func pages(uploadID: UUID) async throws -> [UploadPage] {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                "SELECT \(unescaped: UploadPage.columns) FROM upload_pages WHERE upload_id = \(uploadID) ORDER BY page",
                logger: logger
            )
            var pages: [UploadPage] = []
            for try await row in rows.decode(UploadPage.Row.self) { pages.append(UploadPage(row: row)) }
            return pages
        }
    }

    /// Shows `pagesRead` of `pageCount` on the message's attachment.
    func showProgress(messageID: UUID, pageCount: Int, pagesRead: Int, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            UPDATE messages m SET updated_at = now(),
                   attachments = jsonb_set(m.attachments, '{0}', m.attachments->0
                                 || jsonb_build_object('pages', \(pageCount)::int, 'pages_read', \(pagesRead)::int))
            WHERE m.id = \(messageID) AND m.status IN ('queued', 'processing') AND jsonb_array_length(m.attachments) > 0
            """,
            logger: logger
        )
    }
}
