import Foundation
import Hummingbird
import ScribeTestSupport
import Testing

@Suite struct ConversationTests {
    @Test func createListGetDelete() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let empty = try await api.send(.get, "/v1/conversations", token: token)
            #expect(empty.status == .ok)
            #expect(empty.items.isEmpty)
            #expect(empty.json["next_cursor"] is NSNull)

            let untitled = try await api.send(.post, "/v1/conversations", token: token, json: [:])
            #expect(untitled.status == .created)
            #expect(untitled["title"] as? String == "New conversation")
            let first = try await api.createConversation(token, title: "first")
            let second = try await api.createConversation(token, title: "second")

            let list = try await api.send(.get, "/v1/conversations", token: token)
            #expect(list.items.compactMap { $0["id"] as? String } == [second, first, untitled["id"] as? String].compactMap { $0 })

            let one = try await api.send(.get, "/v1/conversations/\(first)", token: token)
            #expect(one["title"] as? String == "first")

            #expect(try await api.send(.delete, "/v1/conversations/\(first)", token: token).status == .noContent)
            #expect(try await api.send(.get, "/v1/conversations/\(first)", token: token).status == .notFound)
            #expect(try await api.send(.delete, "/v1/conversations/\(first)", token: token).status == .notFound)
            #expect(try await api.send(.get, "/v1/conversations/not-a-uuid", token: token).status == .notFound)
        }
    }

    @Test func deleteCascadesToMessages() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let chat = try await api.send(.post, "/v1/chat", token: token, json: ["text": "Remember the milk."])
            let conversation = try #require(chat["conversation_id"] as? String)
            let userMessage = try #require((chat["user_message"] as? [String: Any])?["id"] as? String)
            #expect(try await api.send(.get, "/v1/messages/\(userMessage)", token: token).status == .ok)
            #expect(try await api.send(.delete, "/v1/conversations/\(conversation)", token: token).status == .noContent)
            #expect(try await api.send(.get, "/v1/messages/\(userMessage)", token: token).status == .notFound)
        }
    }

    @Test func conversationsPaginateNewestFirst() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            var created: [String] = []
            for index in 0..<5 { created.append(try await api.createConversation(token, title: "c\(index)")) }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "&after=\($0)" } ?? ""
                let page = try await api.send(.get, "/v1/conversations?limit=2\(query)", token: token)
                #expect(page.status == .ok)
                seen += page.items.compactMap { $0["id"] as? String }
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == created.reversed())

            let bad = try await api.send(.get, "/v1/conversations?after=zzz", token: token)
            #expect(bad.status == .badRequest)
            #expect(bad.errorField == "after")
        }
    }

    @Test func otherUsersDataIsNotFoundOnEveryRoute() async throws {
        try await withAPI { api in
            let (alice, _) = try await api.registerUser(prefix: "alice")
            let (mallory, _) = try await api.registerUser(prefix: "mallory")
            let chat = try await api.send(.post, "/v1/chat", token: alice, json: ["text": "Alice's secret plan."])
            let conversation = try #require(chat["conversation_id"] as? String)
            let message = try #require((chat["user_message"] as? [String: Any])?["id"] as? String)
            let answer = try #require((chat["assistant_message"] as? [String: Any])?["id"] as? String)

            let probes: [(HTTPRequest.Method, String, [String: Any]?)] = [
                (.get, "/v1/conversations/\(conversation)", nil),
                (.get, "/v1/conversations/\(conversation)/messages", nil),
                (.get, "/v1/messages/\(message)", nil),
                (.get, "/v1/messages/\(answer)", nil),
                (.post, "/v1/chat", ["conversation_id": conversation, "text": "let me in"]),
                (.delete, "/v1/conversations/\(conversation)", nil),
            ]
            for (method, path, body) in probes {
                let reply = try await api.send(method, path, token: mallory, json: body)
                #expect(reply.status == .notFound, "\(method) \(path)")
                #expect(!reply.json.description.contains("secret plan"))
            }
            let list = try await api.send(.get, "/v1/conversations", token: mallory)
            #expect(list.items.isEmpty)
            // Alice still has everything.
            let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: alice)
            #expect(history.items.count == 2)
        }
    }

    @Test func privateRoutesNeedAToken() async throws {
        try await withAPI { api in
            for path in ["/v1/me", "/v1/conversations", "/v1/messages/\(UUID())"] {
                let reply = try await api.send(.get, path)
                #expect(reply.status == .unauthorized)
            }
            let chat = try await api.send(.post, "/v1/chat", json: ["text": "hi"])
            #expect(chat.status == .unauthorized)
        }
    }

    @Test func healthAndReady() async throws {
        try await withAPI { api in
            #expect(try await api.send(.get, "/health").status == .ok)
            // /ready gives the database 2 s; with the whole suite running at once on two
            // cores a ping can take longer, so ask again until it answers (or 30 s pass).
            var ready = try await api.send(.get, "/ready")
            let deadline = ContinuousClock.now + .seconds(30)
            while ready.status == .serviceUnavailable, ContinuousClock.now < deadline {
                #expect(ready.errorCode == "not_ready" && ready.headers[.retryAfter] != nil)
                try await Task.sleep(for: .milliseconds(200))
                ready = try await api.send(.get, "/ready")
            }
            #expect(ready.status == .ok)
            #expect(ready["status"] as? String == "ready")
            let missing = try await api.send(.get, "/no/such/route")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "not_found")
        }
    }

    @Test func renamingKeepsTheConversationAndChecksTheTitleAndOwner() async throws {
        try await withAPI { api in
            let (alice, _) = try await api.registerUser()
            let (mallory, _) = try await api.registerUser()
            let id = try await api.createConversation(alice, title: "Before")
            let renamed = try await api.send(.patch, "/v1/conversations/\(id)", token: alice, json: ["title": "  Invoices 2026  "])
            #expect(renamed.status == .ok)
            #expect(renamed["title"] as? String == "Invoices 2026")
            #expect(try await api.send(.get, "/v1/conversations/\(id)", token: alice)["title"] as? String == "Invoices 2026")
            #expect(try await api.send(.patch, "/v1/conversations/\(id)", token: alice, json: ["title": "   "]).errorCode == "empty_title")
            #expect(try await api.send(.patch, "/v1/conversations/\(id)", token: alice, json: ["title": String(repeating: "x", count: 201)]).errorCode == "title_too_long")
            #expect(try await api.send(.patch, "/v1/conversations/\(id)", token: mallory, json: ["title": "Mine now"]).status == .notFound)
            #expect(try await api.send(.get, "/v1/conversations/\(id)", token: alice)["title"] as? String == "Invoices 2026")
        }
    }

    /// A cursor is ours to write: one forged to name a time PostgreSQL cannot
    /// compute with is a 400 like any other bad cursor (it was a 500).
    @Test func aForgedCursorBeyondAnyTimeIsABadRequest() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            for micros in ["9223372036854775807", "-9223372036854775808", "-1"] {
                let cursor = Data("\(micros):\(UUID().uuidString.lowercased())".utf8).base64EncodedString()
                    .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
                let page = try await api.send(.get, "/v1/conversations?after=\(cursor)", token: token)
                #expect(page.status == .badRequest, "\(micros)")
                #expect(page.errorField == "after")
            }
        }
    }
}
