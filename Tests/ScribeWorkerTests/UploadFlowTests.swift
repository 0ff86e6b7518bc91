import AsyncHTTPClient
import Foundation
import Logging
import ScribeLLM
import ScribeLLMTesting
import ScribeDocuments
import ScribeOCR
import ScribeTestSupport
import Testing

@Suite struct UploadFlowTests {
    static func mediaType(of name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "pdf": "application/pdf"
        default: "application/octet-stream"
        }
    }

    @Test(arguments: Fixtures.documents + Fixtures.scans)
    func everyFixtureGoesUploadToDone(_ name: String) async throws {
        try await withPipeline { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let file = APIClient.FilePart(filename: name, contentType: Self.mediaType(of: name), bytes: try Fixtures.bytes(name))
            let upload = try await api.upload(token: token, conversationID: conversation, files: [file], text: "Summarise this.")
            #expect(upload.status == .accepted)
            let messageID = try #require(upload["message_id"] as? String)

            let message = try await api.waitForMessage(messageID, token: token)
            #expect(message["status"] as? String == "done", "\(name): \(message["error"] ?? "")")
            let text = try #require(message["document_text"] as? String)
            let expected = try Fixtures.expectedText(for: name)
            let cer = characterErrorRate(expected: normaliseWhitespace(expected), actual: normaliseWhitespace(text))
            print("pipeline CER \(name): \(String(format: "%.2f", cer * 100)) %")
            #expect(cer <= 0.02, "\(name): CER \(cer)")
            if name.contains("_ru") { #expect(containsCyrillic(text)) }

            // How each page was read is shown with the message, and the same in the history.
            let attachment = try #require((message["attachments"] as? [[String: Any]])?.first)
            let details = try #require(attachment["page_details"] as? [[String: Any]], "\(attachment)")
            #expect(attachment["pages"] as? Int == details.count)
            #expect(details.map { $0["page"] as? Int } == Array(1...details.count).map { $0 })
            for page in details {
                #expect(["ocr", "text_layer"].contains(page["source"] as? String), "\(page)")
                #expect([0, 90, 180, 270].contains(page["rotation"] as? Int), "\(page)")
                #expect(Set(page.keys) == ["page", "source", "rotation", "skew", "dpi", "confidence", "warning"], "\(page)")
                if page["source"] as? String == "ocr" {
                    #expect((page["confidence"] as? Int ?? 0) >= 50, "\(page)")
                    #expect(page["dpi"] as? Int != nil, "\(page)")
                }
            }
            if name == "letter_rot180.png" { #expect(details.first?["rotation"] as? Int == 180) }

            let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
            #expect(history.items.map { $0["role"] as? String } == ["user", "assistant"])
            #expect(history.items.last?["reply_to"] as? String == messageID)
            let shown = (history.items.first?["attachments"] as? [[String: Any]])?.first?["page_details"] as? [[String: Any]]
            #expect(shown?.count == details.count)

            let job = try await api.send(.get, "/v1/jobs/\(try #require(upload["job_id"] as? String))", token: token)
            #expect(job["state"] as? String == "succeeded")
            #expect(job["attempt"] as? Int == 1)
            #expect(job["stage"] == nil || job["stage"] is NSNull)
            #expect(job["message_id"] as? String == messageID)
            // The whole story: each stage its own job, each run once.
            let stages = try #require(job["stages"] as? [[String: Any]])
            // A PDF of two or more scanned pages is read page by page: its `ocr` stage is the job that assembled them.
            let reading = name == "twopage_scan.pdf" ? "ocr_assemble" : "ocr"
            #expect(stages.map { $0["kind"] as? String } == (name.hasSuffix(".txt") ? ["answer"] : [reading, "answer"]))
            #expect(stages.allSatisfy { $0["state"] as? String == "succeeded" && $0["attempt"] as? Int == 1 }, "\(name): \(stages)")
        }
    }

    @Test func hostileFilesFailWithReadableErrorsAndTheWorkerCarriesOn() async throws {
        // Limits small enough that real fixtures break them.
        let ocr = OCRConfiguration(languages: "eng+rus", engineCount: 1, maxPixelsPerImage: 100_000, maxPagesPerPDF: 0)
        try await withPipeline(ocr: ocr) { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let png = try Fixtures.bytes("invoice_en.png")
            let hostile: [APIClient.FilePart] = [
                .init(filename: "truncated.png", contentType: "image/png", bytes: Array(png.prefix(200))),
                .init(filename: "huge.png", contentType: "image/png", bytes: png),
                .init(filename: "long.pdf", contentType: "application/pdf", bytes: try Fixtures.bytes("letter_ru_text.pdf")),
                .init(filename: "broken.pdf", contentType: "application/pdf", bytes: Array("%PDF-1.7\nnot really a pdf".utf8)),
            ]
            for file in hostile {
                let upload = try await api.upload(token: token, conversationID: conversation, files: [file])
                #expect(upload.status == .accepted)
                let message = try await api.waitForMessage(try #require(upload["message_id"] as? String), token: token)
                #expect(message["status"] as? String == "failed", "\(file.filename)")
                let error = try #require(message["error"] as? String)
                #expect(error.hasPrefix(file.filename), "\(error)")
                let job = try await api.send(.get, "/v1/jobs/\(try #require(upload["job_id"] as? String))", token: token)
                #expect(job["state"] as? String == "failed")
                #expect(job["attempt"] as? Int == 1, "a permanent error is not retried")
                #expect(job["stage"] as? String == "ocr", "it failed reading the file")
                let stages = try #require(job["stages"] as? [[String: Any]])
                #expect(stages.map { $0["kind"] as? String } == ["ocr"], "no answer is asked for an unreadable file")
                #expect((stages.first?["errors"] as? [[String: Any]])?.count == 1)
            }
            // The worker is still alive and well.
            let note = APIClient.FilePart(filename: "note.txt", contentType: "text/plain", bytes: Array("The meeting moved to Friday at ten.".utf8))
            let upload = try await api.upload(token: token, conversationID: conversation, files: [note])
            let message = try await api.waitForMessage(try #require(upload["message_id"] as? String), token: token)
            #expect(message["status"] as? String == "done")
            #expect(message["document_text"] as? String == "The meeting moved to Friday at ten.")
        }
    }

    static func client(for server: FakeChatCompletionsServer) -> ChatCompletionsClient {
        // One request per job attempt, so the job-level retry is what recovers.
        ChatCompletionsClient(
            configuration: .init(baseURL: server.baseURL, model: "fake", attemptTimeout: .seconds(5), totalTimeout: .seconds(5), maxAttempts: 1),
            httpClient: .shared,
            logger: Logger(label: "test.llm", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    @Test func rateLimitedThenOKSucceedsOnALaterAttempt() async throws {
        try await FakeChatCompletionsServer.withRunning(.error(429, message: "slow down", type: "rate_limit", retryAfter: "0"), default: .reply("Here is your answer.")) { server in
            try await withPipeline(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                let note = APIClient.FilePart(filename: "q.txt", contentType: "text/plain", bytes: Array("Question text.".utf8))
                let upload = try await api.upload(token: token, conversationID: conversation, files: [note])
                let message = try await api.waitForMessage(try #require(upload["message_id"] as? String), token: token)
                #expect(message["status"] as? String == "done")
                let job = try await api.send(.get, "/v1/jobs/\(try #require(upload["job_id"] as? String))", token: token)
                #expect(job["state"] as? String == "succeeded")
                #expect(job["attempt"] as? Int == 2)
                let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
                #expect(history.items.last?["content"] as? String == "Here is your answer.")
            }
        }
    }

    @Test func brokenLLMFailsAfterMaxAttemptsWithTheErrorShown() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .status(500, body: #"{"error":{"message":"down"}}"#)) { server in
            try await withPipeline(provider: Self.client(for: server), jobMaxAttempts: 3) { api in
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                let note = APIClient.FilePart(filename: "q.txt", contentType: "text/plain", bytes: Array("Question text.".utf8))
                let upload = try await api.upload(token: token, conversationID: conversation, files: [note])
                let message = try await api.waitForMessage(try #require(upload["message_id"] as? String), token: token)
                #expect(message["status"] as? String == "failed")
                #expect((message["error"] as? String)?.contains("Gave up after 3 attempts") == true)
                // The OCR checkpoint survived the retries: the text is there.
                #expect(message["document_text"] as? String == "Question text.")
                let job = try await api.send(.get, "/v1/jobs/\(try #require(upload["job_id"] as? String))", token: token)
                #expect(job["state"] as? String == "failed")
                #expect(job["attempt"] as? Int == 3)
                #expect((job["last_error"] as? String)?.isEmpty == false)
                #expect(server.requestCount == 3)
                let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
                #expect(history.items.count == 1, "no answer was written")
            }
        }
    }
}
