import Foundation
import HTTPTypes
import Hummingbird
import ScribeAPI
import ScribeLLMTesting
import ScribeTestSupport
import Testing

/// `POST /v1/chat/send`: bots acting for their people with `X-API-KEY`.
@Suite struct ServiceChatTests {
    @Test func aKeyIsRequiredAndMustBeLiveAndAllowed() async throws {
        try await withAPI { api in
            let body: [String: Any] = ["telegram_id": 42, "message": "hi"]
            let missing = try await api.botSend(key: nil, body)
            #expect(missing.status == .unauthorized && missing.errorCode == "unauthorized")
            let malformed = try await api.botSend(key: "not-a-key", body)
            #expect(malformed.status == .unauthorized && malformed.errorCode == "invalid_key")
            let unknown = try await api.botSend(key: ServiceKeySecret().value, body)
            #expect(unknown.status == .unauthorized && unknown.errorCode == "invalid_key")

            let name = "revoked-\(UUID().uuidString.prefix(8))"
            let key = try await api.createServiceKey(name: name)
            #expect(try await api.botSend(key: key, body).status == .ok)
            let stored = try #require(try await api.stores.serviceKeys.serviceKeys().first { $0.name == name })
            #expect(try await api.stores.serviceKeys.revokeServiceKey(id: stored.id))
            let revoked = try await api.botSend(key: key, body)
            #expect(revoked.status == .unauthorized && revoked.errorCode == "invalid_key", "a revoked key stops at once")

            let filesOnly = try await api.createServiceKey(scopes: ["files"])
            let forbidden = try await api.botSend(key: filesOnly, body)
            #expect(forbidden.status == .forbidden && forbidden.errorCode == "insufficient_scope")

            // A bearer token is not a service key, and a service key is not a bearer token.
            let (token, _) = try await api.registerUser()
            #expect(try await api.send(.post, "/v1/chat/send", token: token, json: body).status == .unauthorized)
            #expect(try await api.send(.get, "/v1/conversations", token: key).status == .unauthorized)
        }
    }

    @Test func aPersonGetsOneConversationWithTheLastMessagesAsContext() async throws {
        try await FakeChatCompletionsServer.withRunning { server in
            try await withAPI(provider: ChatTests.client(for: server), limits: RequestLimits(botDailyRequests: 30), botHistoryMessages: 5) { api in
                let key = try await api.createServiceKey()
                let person = Int.random(in: 1...1_000_000_000)
                var conversations: Set<String> = []
                for turn in 1...7 {
                    let reply = try await api.botSend(key: key, ["telegram_id": person, "message": "message \(turn)"])
                    #expect(reply.status == .ok)
                    #expect(reply["response"] as? String == "echo: message \(turn)")
                    #expect(reply["remaining_requests"] as? Int == 30 - turn)
                    #expect((reply["message_id"] as? String)?.isEmpty == false)
                    conversations.insert(try #require(reply["conversation_id"] as? String))
                }
                #expect(conversations.count == 1, "one conversation per person")
                // The 7th answer saw the system prompt, the 5 messages before it, and the question.
                let last = try #require(server.requests.last)
                #expect(last.messages.count == 1 + 5 + 1)
                #expect(last.messages.first?.role == "system")
                #expect(last.messages.dropFirst().first?.content == "echo: message 4")
                #expect(last.messages.last?.content == "message 7")
            }
        }
    }

    @Test func peopleAreKeptApartByServiceAndFromWebUsers() async throws {
        try await withAPI { api in
            let first = try await api.createServiceKey(name: "first-\(UUID().uuidString.prefix(8))")
            let second = try await api.createServiceKey(name: "second-\(UUID().uuidString.prefix(8))")
            let person = Int.random(in: 1...1_000_000_000)
            let a = try await api.botSend(key: first, ["telegram_id": person, "message": "secret of the first bot"])
            let b = try await api.botSend(key: second, ["telegram_id": person, "message": "hello"])
            let c = try await api.botSend(key: first, ["external_id": "user-\(person)", "message": "hello"])
            let ids = [a, b, c].compactMap { $0["conversation_id"] as? String }
            #expect(Set(ids).count == 3, "the same id at two services, or as another kind of id, is another person")

            // A web user sees none of it.
            let (token, _) = try await api.registerUser()
            #expect(try await api.send(.get, "/v1/conversations/\(ids[0])/messages", token: token).status == .notFound)
            let list = try await api.send(.get, "/v1/conversations", token: token)
            #expect(list.items.isEmpty)

            // Rotating a key under the same name keeps the same people.
            let rotated = try await api.createServiceKey(name: try #require(try await api.stores.serviceKeys.serviceKeys().first { $0.name.hasPrefix("first-") }?.name))
            let again = try await api.botSend(key: rotated, ["telegram_id": person, "message": "still me"])
            #expect(again["conversation_id"] as? String == ids[0])
        }
    }

    @Test func badBodiesAreClearErrors() async throws {
        try await withAPI { api in
            let key = try await api.createServiceKey()
            let cases: [([String: Any], HTTPResponse.Status, String)] = [
                (["message": "hi"], .badRequest, "telegram_id"),
                (["telegram_id": 1, "external_id": "x", "message": "hi"], .badRequest, "external_id"),
                (["telegram_id": -5, "message": "hi"], .unprocessableContent, "telegram_id"),
                (["telegram_id": "12a", "message": "hi"], .badRequest, "telegram_id"),
                (["external_id": "", "message": "hi"], .unprocessableContent, "external_id"),
                (["telegram_id": 1, "message": "   "], .unprocessableContent, "message"),
                (["telegram_id": 1], .badRequest, "message"),
            ]
            for (body, status, field) in cases {
                let reply = try await api.botSend(key: key, body)
                #expect(reply.status == status, "\(body)")
                #expect(reply.errorField == field, "\(body)")
            }
            // A Telegram id may come as a string of digits.
            #expect(try await api.botSend(key: key, ["telegram_id": "77", "message": "hi"]).status == .ok)
        }
    }

    /// At 29 of 30, 100 concurrent requests: exactly one is answered, the
    /// rest get 429 with Retry-After until midnight UTC and the reset time.
    @Test func theDailyLimitLetsExactlyOneThroughAtTheEdge() async throws {
        try await withAPI(limits: RequestLimits(botDailyRequests: 30)) { api in
            let key = try await api.createServiceKey()
            let person = Int.random(in: 1...1_000_000_000)
            for _ in 1...29 {
                #expect(try await api.botSend(key: key, ["telegram_id": person, "message": "hello"]).status == .ok)
            }
            let replies = try await withThrowingTaskGroup(of: APIClient.Reply.self) { group in
                for index in 0..<100 {
                    group.addTask { try await api.botSend(key: key, ["telegram_id": person, "message": "race \(index)"]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let answered = replies.filter { $0.status == .ok }
            let refused = replies.filter { $0.status == .tooManyRequests }
            #expect(answered.count == 1)
            #expect(refused.count == 99)
            #expect(answered.first?["remaining_requests"] as? Int == 0)

            let sample = try #require(refused.first)
            #expect(sample.errorCode == "daily_limit_reached")
            let error = try #require(sample["error"] as? [String: Any])
            #expect(error["limit"] as? Int == 30)
            let resetAt = try #require((error["reset_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            #expect(resetAt == utc.startOfDay(for: Date()).addingTimeInterval(86_400) || resetAt == utc.startOfDay(for: Date()))
            let retryAfter = try #require(sample.headers[.retryAfter].flatMap(Int.init))
            #expect(retryAfter >= 1 && retryAfter <= 86_400)
            #expect(abs(Double(retryAfter) - resetAt.timeIntervalSinceNow) < 5)

            // Only the one answered message was stored besides the first 29 (and their answers).
            let conversation = try #require(answered.first?["conversation_id"] as? String)
            let allowance = try await api.stores.usage.dailyAllowance(userID: try await api.conversationOwner(conversation), limit: 30)
            #expect(allowance.used == 30)
            #expect(try await api.messageCount(conversationID: conversation) == 60)
        }
    }

    @Test func anUnansweredMessageDoesNotCount() async throws {
        try await FakeChatCompletionsServer.withRunning(.error(400, message: "bad request")) { server in
            try await withAPI(provider: ChatTests.client(for: server), limits: RequestLimits(botDailyRequests: 30)) { api in
                let key = try await api.createServiceKey()
                let person = Int.random(in: 1...1_000_000_000)
                let failed = try await api.botSend(key: key, ["telegram_id": person, "message": "hello"])
                #expect(failed.status == .badGateway)
                server.setDefaultBehaviour(.echo)
                let answered = try await api.botSend(key: key, ["telegram_id": person, "message": "hello again"])
                #expect(answered.status == .ok)
                #expect(answered["remaining_requests"] as? Int == 29, "the failed one was given back")
            }
        }
    }

    @Test func unlimitedBotsGetNullRemaining() async throws {
        try await withAPI(limits: RequestLimits(botDailyRequests: nil)) { api in
            let key = try await api.createServiceKey()
            let reply = try await api.botSend(key: key, ["external_id": "u-\(UUID())", "message": "hello"])
            #expect(reply.status == .ok)
            #expect(reply.json.keys.contains("remaining_requests"))
            #expect(reply["remaining_requests"] is NSNull)
        }
    }
}
