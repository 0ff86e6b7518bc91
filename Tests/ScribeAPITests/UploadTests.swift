import Foundation
import Hummingbird
import ScribeAPI
import ScribeTestSupport
import Testing

@Suite struct UploadTests {
    static let text = APIClient.FilePart(filename: "note.txt", contentType: "text/plain", bytes: Array("Meeting at noon.".utf8))

    @Test func acceptedUploadAnswers202WithLocationAndQueuedMessage() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let png = APIClient.FilePart(filename: "../../etc/scan.png", contentType: "application/octet-stream", bytes: try Fixtures.bytes("invoice_en.png"))
            let reply = try await api.upload(token: token, conversationID: conversation, files: [png, Self.text], text: "What is the total?")
            #expect(reply.status == .accepted)
            let messageID = try #require(reply["message_id"] as? String)
            let jobID = try #require(reply["job_id"] as? String)
            #expect(reply["conversation_id"] as? String == conversation)
            #expect(reply["status"] as? String == "queued")
            #expect(reply.headers[.location] == "/v1/messages/\(messageID)")
            #expect((reply["items"] as? [[String: Any]])?.count == 2)

            let message = try await api.send(.get, "/v1/messages/\(messageID)", token: token)
            #expect(message["status"] as? String == "queued")
            #expect(message["content"] as? String == "What is the total?")
            let attachment = try #require((message["attachments"] as? [[String: Any]])?.first)
            #expect(attachment["filename"] as? String == "scan.png")
            #expect(attachment["content_type"] as? String == "image/png")

            let job = try await api.send(.get, "/v1/jobs/\(jobID)", token: token)
            #expect(job.status == .ok)
            #expect(job["state"] as? String == "available")
            #expect(job["attempt"] as? Int == 0)
            #expect(job["max_attempts"] as? Int == 3)
        }
    }

    @Test func idempotencyKeyReturnsTheFirstAnswer() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let key = UUID().uuidString
            let first = try await api.upload(token: token, conversationID: conversation, files: [Self.text], idempotencyKey: key)
            let second = try await api.upload(token: token, conversationID: conversation, files: [Self.text], idempotencyKey: key)
            #expect(first.status == .accepted && second.status == .accepted)
            #expect(first["job_id"] as? String == second["job_id"] as? String)
            #expect(first["message_id"] as? String == second["message_id"] as? String)
            let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
            #expect(history.items.count == 1)
        }
    }

    @Test func wrongTypesAreRefusedAtTheDoor() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let fakeImage = APIClient.FilePart(filename: "photo.jpg", contentType: "image/jpeg", bytes: Array("MZ\u{90}\u{0}this is an executable".utf8))
            let notImage = try await api.upload(token: token, conversationID: conversation, files: [fakeImage])
            #expect(notImage.status == .unsupportedMediaType)
            #expect(notImage.errorField == "file")

            let empty = APIClient.FilePart(filename: "empty.png", contentType: "image/png", bytes: [])
            let emptyReply = try await api.upload(token: token, conversationID: conversation, files: [empty])
            #expect(emptyReply.status == .unsupportedMediaType)
            #expect(emptyReply.errorCode == "empty_file")

            let json = try await api.send(.post, "/v1/chat/file", token: token, json: ["conversation_id": conversation])
            #expect(json.status == .unsupportedMediaType)

            // Nothing was stored for any of them.
            let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
            #expect(history.items.isEmpty)
        }
    }

    @Test func oversizedUploadsAre413() async throws {
        let limits = UploadLimits(maxFileBytes: 1024, maxRequestBytes: 4096, maxFiles: 2, jobMaxAttempts: 3)
        try await withAPI(uploads: limits) { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let big = APIClient.FilePart(filename: "big.txt", contentType: "text/plain", bytes: Array(repeating: UInt8(ascii: "a"), count: 2000))
            let tooBigFile = try await api.upload(token: token, conversationID: conversation, files: [big])
            #expect(tooBigFile.status == .contentTooLarge)
            #expect(tooBigFile.errorCode == "file_too_large")

            let small = APIClient.FilePart(filename: "s.txt", contentType: "text/plain", bytes: Array(repeating: UInt8(ascii: "b"), count: 900))
            let tooBigRequest = try await api.upload(token: token, conversationID: conversation, files: Array(repeating: small, count: 6))
            #expect(tooBigRequest.status == .contentTooLarge)

            let tooMany = try await api.upload(token: token, conversationID: conversation, files: [Self.text, Self.text, Self.text])
            #expect(tooMany.status == .contentTooLarge)
            #expect(tooMany.errorCode == "too_many_files")

            let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
            #expect(history.items.isEmpty)
        }
    }

    @Test func badFormsAre400AndOtherUsersConversationsAre404() async throws {
        try await withAPI { api in
            let (alice, _) = try await api.registerUser(prefix: "alice")
            let (mallory, _) = try await api.registerUser(prefix: "mallory")
            let conversation = try await api.createConversation(alice)

            let missing = try await api.upload(token: alice, conversationID: nil, files: [Self.text])
            #expect(missing.status == .badRequest)
            #expect(missing.errorField == "conversation_id")
            let noFile = try await api.upload(token: alice, conversationID: conversation, files: [])
            #expect(noFile.status == .badRequest)
            let foreign = try await api.upload(token: mallory, conversationID: conversation, files: [Self.text])
            #expect(foreign.status == .notFound)

            let upload = try await api.upload(token: alice, conversationID: conversation, files: [Self.text])
            let jobID = try #require(upload["job_id"] as? String)
            #expect(try await api.send(.get, "/v1/jobs/\(jobID)", token: mallory).status == .notFound)
            #expect(try await api.send(.get, "/v1/jobs/\(jobID)", token: alice).status == .ok)
        }
    }
}
