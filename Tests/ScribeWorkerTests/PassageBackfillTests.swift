import Foundation
import NIOCore
import PostgresNIO
import ScribeFlows
import ScribePostgres
import ScribeStore
import ScribeTestSupport
@testable import ScribeWorker
import Testing

/// Documents read before passages existed get them from the backfill: page by
/// page when their pages were kept, as page 1 when they have one page, with
/// no page otherwise; each once, however many workers run it.
@Suite struct PassageBackfillTests {
    /// Stores a document read before passages existed: its text checkpointed, no passages, not marked.
    static func legacyDocument(_ stores: Stores, text: String, pages: Int, pageTexts: [String] = []) async throws -> UUID {
        let user = try await stores.users.createUser(
            email: "backfill-\(UUID().uuidString.lowercased())@example.com", username: nil, passwordHash: "-",
            origin: AuditOrigin(address: nil, requestID: nil)
        )
        let conversation = try await stores.conversations.createConversation(userID: user.id, title: "Old documents")
        let uploadID = UUID.v7()
        let readings = (1...pages).map { AttachmentPage(page: $0, source: "ocr", rotation: 0, skew: 0, dpi: 300, confidence: 90, warning: nil) }
        try await stores.database.transaction { connection in
            _ = try await stores.uploads.insertUpload(
                id: uploadID,
                userID: user.id,
                conversationID: conversation.id,
                caption: nil,
                file: NewUpload(filename: "old.pdf", contentType: "application/pdf", bytes: ByteBuffer(string: "%PDF")),
                idempotencyKey: nil,
                requestPosition: 0,
                knownText: (text, readings),
                ocrJobID: nil,
                answerJobID: nil,
                on: connection
            )
            for (index, pageText) in pageTexts.enumerated() {
                try await connection.query(
                    "INSERT INTO upload_pages (upload_id, page, text, read_at) VALUES (\(uploadID), \(index + 1), \(pageText), now())",
                    logger: TestDatabase.logger
                )
            }
            try await connection.query("UPDATE uploads SET passages_at = NULL WHERE id = \(uploadID)", logger: TestDatabase.logger)
        }
        return uploadID
    }

    static func pages(_ stores: Stores, _ uploadID: UUID) async throws -> [Int?] {
        try await stores.database.withConnection { connection in
            var pages: [Int?] = []
            let rows = try await connection.query("SELECT page FROM passages WHERE upload_id = \(uploadID) ORDER BY page, ordinal", logger: TestDatabase.logger)
            for try await page in rows.decode(Int?.self) { pages.append(page) }
            return pages
        }
    }

    @Test func earlierDocumentsAreIndexedOnceEachByPageWhenTheirPagesWereKept() async throws {
        // A database of its own: the backfill takes every unindexed upload it finds.
        try await Database.withRunning(try await TestDatabase.createMigrated(), options: TestDatabase.options, logger: TestDatabase.logger) { database in
            let stores = Stores(database: database, logger: TestDatabase.logger)
            let byPage = try await Self.legacyDocument(stores, text: "alpha\n\nbravo", pages: 2, pageTexts: ["alpha clause", "bravo clause"])
            let onePage = try await Self.legacyDocument(stores, text: "a one-page letter", pages: 1)
            let unknown = try await Self.legacyDocument(stores, text: "first page\n\nsecond page", pages: 2)

            // Two workers at once: SKIP LOCKED shares the uploads, none is indexed twice.
            let backfill = PassageBackfill(database: stores.database, passages: stores.passages, logger: TestDatabase.logger)
            async let first = backfill.indexBatch()
            async let second = backfill.indexBatch()
            #expect(try await first + second == 3)
            #expect(try await backfill.indexBatch() == 0)

            #expect(try await Self.pages(stores, byPage) == [1, 2])
            #expect(try await Self.pages(stores, onePage) == [1])
            #expect(try await Self.pages(stores, unknown) == [nil])
            let found = try await stores.passages.search(
                conversationID: try #require(try await stores.uploads.upload(id: byPage)).conversationID, question: "bravo", limit: 5
            )
            #expect(found.map(\.page) == [2])
        }
    }
}
