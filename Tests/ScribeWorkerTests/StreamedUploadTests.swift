import Foundation
import HTTPTypes
import NIOCore
import PostgresNIO
import ScribeTestSupport
import Testing

/// Files stream into the database in 1 MiB chunks as they arrive: a file of
/// several chunks goes through the whole pipeline; a file over the limit, or a
/// request cut off in the middle of a file, leaves no chunk behind.
@Suite struct StreamedUploadTests {
    static func chunks(_ api: APIClient) async throws -> Int {
        try await PageJobTests.count("SELECT count(*) FROM upload_chunks", api)
    }

    @Test func aFileOfSeveralChunksIsReadAndAnswered() async throws {
        // 2.6 MiB of text, with multi-byte characters cut across chunk boundaries.
        let line = "Строка \(String(repeating: "é", count: 20)) — line of the long text file.\n"
        var lines = ""
        var number = 0
        while lines.utf8.count < 2_600_000 {
            number += 1
            lines += "\(number) \(line)"
        }
        let text = lines
        try await withPipeline { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let file = APIClient.FilePart(filename: "long.txt", contentType: "text/plain", bytes: Array(text.utf8))
            let upload = try await api.upload(token: token, conversationID: conversation, files: [file])
            #expect(upload.status == .accepted, "\(upload.text)")
            let uploadID = try #require(upload["job_id"] as? String)
            #expect(try await PageJobTests.count("SELECT chunk_count FROM uploads WHERE id = '\(uploadID)'", api) == 3)

            let message = try await api.waitForMessage(try #require(upload["message_id"] as? String), token: token)
            #expect(message["status"] as? String == "done", "\(message["error"] ?? "")")
            let read = try #require(message["document_text"] as? String)
            #expect(normaliseWhitespace(read) == normaliseWhitespace(text), "every chunk, in order, each character whole")
            #expect(try await Self.chunks(api) == 0, "the chunks go with the answer")
        }
    }

    @Test func aFileOverTheLimitLeavesNoChunk() async throws {
        try await withPipeline { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            // The pipeline's limit is 8 MiB per file.
            let file = APIClient.FilePart(filename: "huge.txt", contentType: "text/plain", bytes: Array(repeating: UInt8(ascii: "a"), count: 9 << 20))
            let reply = try await api.upload(token: token, conversationID: conversation, files: [file])
            #expect(reply.status == .contentTooLarge)
            #expect((reply["error"] as? [String: Any])?["code"] as? String == "file_too_large", "\(reply.text)")
            #expect(try await Self.chunks(api) == 0)
            #expect(try await api.messageCount(conversationID: conversation) == 0)
        }
    }

    @Test func aRequestCutOffInAFileLeavesNoChunk() async throws {
        try await withPipeline { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let boundary = "cut-\(UUID().uuidString)"
            var body = ByteBuffer()
            body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"conversation_id\"\r\n\r\n\(conversation)\r\n")
            body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.txt\"\r\n\r\n")
            // Three chunks' worth of a file, then nothing: no closing boundary.
            body.writeBytes(Array(repeating: UInt8(ascii: "b"), count: 3 << 20))
            let headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)", .authorization: "Bearer \(token)"]
            let response = try await api.client.execute(uri: "/v1/chat/file", method: .post, headers: headers, body: body)
            #expect(response.status == .badRequest, "\(String(buffer: response.body))")
            #expect(try await Self.chunks(api) == 0)
            #expect(try await api.messageCount(conversationID: conversation) == 0)
        }
    }
}
