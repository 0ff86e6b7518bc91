import Foundation
import PostgresNIO
import ScribeTestSupport
import Testing

/// A PDF of several scanned pages is read page by page, each page a job of
/// its own, and put together in page order: pages that cannot be read are
/// skipped with a warning, and only a document with no text at all fails.
@Suite struct PageJobTests {
    static func count(_ sql: String, _ api: APIClient) async throws -> Int {
        try await api.stores.database.withConnection { connection in
            for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(Int.self) {
                return value
            }
            return -1
        }
    }

    @Test func aLongScanIsReadPageByPageInOrderAndAnsweredOnce() async throws {
        // Pages 1–2 scanned, 3 a scan too large to read, 4 a text layer, 5 scanned.
        let pdf = try await LongPDF.joined([
            try Fixtures.bytes("twopage_scan.pdf"),
            LongPDF.blankPage(width: 14_400, height: 14_400),
            try Fixtures.bytes("letter_ru_text.pdf"),
            try Fixtures.bytes("invoice_en_scan.pdf"),
        ])
        try await withPipeline { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let file = APIClient.FilePart(filename: "bundle.pdf", contentType: "application/pdf", bytes: pdf)
            let upload = try await api.upload(token: token, conversationID: conversation, files: [file], text: "What is in it?")
            let messageID = try #require(upload["message_id"] as? String)
            let message = try await api.waitForMessage(messageID, token: token)
            #expect(message["status"] as? String == "done", "\(message["error"] ?? "")")

            let expected = try ["twopage_scan.pdf", "letter_ru_text.pdf", "invoice_en_scan.pdf"].map(Fixtures.expectedText(for:)).joined(separator: "\n\n")
            let text = try #require(message["document_text"] as? String)
            let cer = characterErrorRate(expected: normaliseWhitespace(expected), actual: normaliseWhitespace(text))
            #expect(cer <= 0.02, "the pages' texts in page order: CER \(cer)")

            let attachment = try #require((message["attachments"] as? [[String: Any]])?.first)
            let details = try #require(attachment["page_details"] as? [[String: Any]])
            #expect(attachment["pages"] as? Int == 5 && attachment["pages_read"] as? Int == 5)
            #expect(details.map { $0["page"] as? Int } == [1, 2, 3, 4, 5])
            #expect(details.map { $0["source"] as? String } == ["ocr", "ocr", "ocr", "text_layer", "ocr"])
            let skipped = try #require(details[2]["warning"] as? String)
            #expect(skipped.contains("Page 3") && skipped.contains("pixels"), "\(skipped)")
            #expect(details.enumerated().allSatisfy { $0.offset == 2 || $0.element["warning"] is NSNull }, "\(details)")

            let uploadID = try #require(upload["job_id"] as? String)
            #expect(try await Self.count("SELECT count(*) FROM jobs WHERE kind = 'ocr_page' AND (args->>'upload_id')::uuid = '\(uploadID)'", api) == 4)
            #expect(try await Self.count("SELECT count(*) FROM jobs WHERE kind = 'ocr_page' AND attempt <> 1", api) == 0, "each page read once")
            #expect(try await Self.count("SELECT count(*) FROM jobs WHERE kind = 'ocr_page' AND state = 'failed'", api) == 1)
            #expect(try await Self.count("SELECT count(*) FROM upload_pages WHERE upload_id = '\(uploadID)' AND read_at IS NOT NULL AND source IS NULL", api) == 5)
            #expect(try await api.messageCount(conversationID: conversation) == 2, "one answer")

            let job = try await api.send(.get, "/v1/jobs/\(uploadID)", token: token)
            #expect(job["state"] as? String == "succeeded" && job["pages"] as? Int == 5)
            let stages = try #require(job["stages"] as? [[String: Any]])
            #expect(stages.map { $0["kind"] as? String } == ["ocr_assemble", "answer"])
        }
    }

    @Test func aScanWithNoReadablePageFailsNamingThePages() async throws {
        let giant = LongPDF.blankPage(width: 14_400, height: 14_400)
        let pdf = try await LongPDF.joined([giant, giant, LongPDF.blankPage()])
        try await withPipeline { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let file = APIClient.FilePart(filename: "empty.pdf", contentType: "application/pdf", bytes: pdf)
            let upload = try await api.upload(token: token, conversationID: conversation, files: [file], text: nil)
            let message = try await api.waitForMessage(try #require(upload["message_id"] as? String), token: token)
            #expect(message["status"] as? String == "failed")
            let error = try #require(message["error"] as? String)
            #expect(error.contains("empty.pdf") && error.contains("pages 1–3"), "\(error)")
            #expect(try await api.messageCount(conversationID: conversation) == 1, "no answer")
        }
    }
}
