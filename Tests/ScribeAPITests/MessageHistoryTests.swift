import Foundation
import Hummingbird
import ScribeTestSupport
import Testing

@Suite struct MessageHistoryTests {
    /// A conversation with `exchanges` chats in it (two messages each).
    func conversation(_ api: APIClient, token: String, exchanges: Int) async throws -> String {
        let conversation = try await api.createConversation(token)
        for index in 0..<exchanges {
            let reply = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "Message number \(index)."])
            #expect(reply.status == .ok)
        }
        return conversation
    }

    @Test func emptyHistory() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let page = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
            #expect(page.status == .ok)
            #expect(page.items.isEmpty)
            #expect(page.json["next_cursor"] is NSNull)
        }
    }

    @Test func exactlyOnePageHasNoNextCursor() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await conversation(api, token: token, exchanges: 2)
            let page = try await api.send(.get, "/v1/conversations/\(conversation)/messages?limit=4", token: token)
            #expect(page.items.count == 4)
            #expect(page.json["next_cursor"] is NSNull)
            #expect(page.items.map { $0["role"] as? String } == ["user", "assistant", "user", "assistant"])
            let last = try #require(page.items.last?["id"] as? String)

            let afterLast = try await api.send(.get, "/v1/conversations/\(conversation)/messages?after=\(last)", token: token)
            #expect(afterLast.status == .ok)
            #expect(afterLast.items.isEmpty)
            #expect(afterLast.json["next_cursor"] is NSNull)
        }
    }

    @Test func pagesWalkTheWholeHistoryOldestFirst() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await conversation(api, token: token, exchanges: 3)
            var contents: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let query = cursor.map { "&after=\($0)" } ?? ""
                let page = try await api.send(.get, "/v1/conversations/\(conversation)/messages?limit=4\(query)", token: token)
                contents += page.items.compactMap { ($0["role"] as? String) == "user" ? $0["content"] as? String : nil }
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil
            #expect(pages == 2)
            #expect(contents == ["Message number 0.", "Message number 1.", "Message number 2."])
        }
    }

    @Test(arguments: ["limit=0", "limit=201", "limit=abc", "after=not-a-cursor"])
    func badPaginationIs400(_ query: String) async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let reply = try await api.send(.get, "/v1/conversations/\(conversation)/messages?\(query)", token: token)
            #expect(reply.status == .badRequest)
        }
    }

    @Test func messageJSONHasTheDesignedShape() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let chat = try await api.send(.post, "/v1/chat", token: token, json: ["text": "Shape check."])
            let answer = try #require(chat["assistant_message"] as? [String: Any])
            let id = try #require(answer["id"] as? String)
            let message = try await api.send(.get, "/v1/messages/\(id)", token: token)
            for key in ["id", "conversation_id", "role", "content", "status", "error", "reply_to", "attachments", "created_at"] {
                #expect(message.json.keys.contains(key), "missing \(key)")
            }
            #expect(message["reply_to"] as? String == (chat["user_message"] as? [String: Any])?["id"] as? String)
            #expect((message["created_at"] as? String)?.hasSuffix("Z") == true)

            // Three renderings of the same messages agree to the byte-level value:
            // the chat response (Swift), one message and the history page (Postgres).
            let user = try #require(chat["user_message"] as? [String: Any])
            let conversation = try #require(chat["conversation_id"] as? String)
            let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
            let single = try await api.send(.get, "/v1/messages/\(try #require(user["id"] as? String))", token: token)
            #expect(NSDictionary(dictionary: single.json).isEqual(to: user))
            #expect(NSDictionary(dictionary: history.items[0]).isEqual(to: user))
            #expect(NSDictionary(dictionary: history.items[1]).isEqual(to: answer))
            #expect(NSDictionary(dictionary: message.json).isEqual(to: answer))
        }
    }

    @Test func pollingAMessageIsAnsweredNotModifiedUntilItChanges() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let chat = try await api.send(.post, "/v1/chat", token: token, json: ["text": "Poll me."])
            let id = try #require((chat["user_message"] as? [String: Any])?["id"] as? String)
            let first = try await api.send(.get, "/v1/messages/\(id)", token: token)
            let tag = try #require(first.headers[.eTag])
            #expect(tag.hasPrefix("\"") && tag.count == 18)
            #expect(first.headers[.cacheControl] == "no-cache")

            let same = try await api.send(.get, "/v1/messages/\(id)", token: token, headers: [.ifNoneMatch: tag])
            #expect(same.status == .notModified)
            #expect(same.json.isEmpty, "no body")
            #expect(same.headers[.eTag] == tag)
            #expect(try await api.send(.get, "/v1/messages/\(id)", token: token, headers: [.ifNoneMatch: "\"other\", W/\(tag)"]).status == .notModified)
            #expect(try await api.send(.get, "/v1/messages/\(id)", token: token, headers: [.ifNoneMatch: "\"0000000000000000\""]).status == .ok)

            // Any change to the message changes its tag.
            try await api.stores.database.client.query("UPDATE messages SET content = 'Poll me, changed.' WHERE id = \(UUID(uuidString: id)!)")
            let changed = try await api.send(.get, "/v1/messages/\(id)", token: token, headers: [.ifNoneMatch: tag])
            #expect(changed.status == .ok)
            #expect(changed["content"] as? String == "Poll me, changed.")
            #expect(changed.headers[.eTag] != tag)
        }
    }
}
