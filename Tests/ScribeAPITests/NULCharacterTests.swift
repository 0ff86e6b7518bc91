import Foundation
import Hummingbird
import ScribeTestSupport
import Testing

/// PostgreSQL's text cannot hold U+0000, which JSON and multipart can carry:
/// such input is a 400 that names the field, and nothing is stored (it was a
/// failed statement and a 500, found by scripts/api-fuzz).
@Suite struct NULCharacterTests {
    @Test func textWithANULCharacterIsABadRequestNamingTheField() async throws {
        try await withAPI { api in
            let register = try await api.send(.post, "/v1/auth/register", raw: #"{"email": "nul\u0000@example.com", "password": "correct horse battery"}"#)
            #expect(register.status == .badRequest)
            #expect(register.errorField == "email")
            let login = try await api.send(.post, "/v1/auth/login", raw: #"{"login": "nul\u0000", "password": "correct horse battery"}"#)
            #expect(login.status == .badRequest)
            #expect(login.errorField == "login")

            let (token, _) = try await api.registerUser()
            let created = try await api.send(.post, "/v1/conversations", token: token, raw: #"{"title": "a\u0000b"}"#)
            #expect(created.status == .badRequest)
            #expect(created.errorField == "title")
            let conversation = try await api.createConversation(token)
            let renamed = try await api.send(.patch, "/v1/conversations/\(conversation)", token: token, raw: #"{"title": "a\u0000b"}"#)
            #expect(renamed.status == .badRequest)
            #expect(renamed.errorField == "title")
            #expect(renamed.errorCode == "bad_request")

            let chat = try await api.send(.post, "/v1/chat", token: token, raw: #"{"conversation_id": "\#(conversation)", "text": "hello\u0000"}"#)
            #expect(chat.status == .badRequest)
            #expect(chat.errorField == "text")
            let upload = try await api.upload(
                token: token,
                conversationID: conversation,
                files: [.init(filename: "note.txt", contentType: "text/plain", bytes: Array("A note.".utf8))],
                text: "caption\u{0}"
            )
            #expect(upload.status == .badRequest)
            #expect(upload.errorField == "text")
            let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
            #expect(history.items.isEmpty)

            // The six characters `\u0000` written out (an escaped backslash) are ordinary text.
            let literal = try await api.send(.post, "/v1/chat", token: token, raw: #"{"conversation_id": "\#(conversation)", "text": "say \\u0000"}"#)
            #expect(literal.status == .ok)
            #expect((literal["user_message"] as? [String: Any])?["content"] as? String == #"say \u0000"#)
        }
    }
}
