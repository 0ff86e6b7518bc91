import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import ScribeLLM
import ScribeLLMTesting
import ScribeTestSupport
import Testing

@Suite struct ChatTests {
    /// A client for `server` with test-sized attempt timeouts and backoff. The total budget is
    /// generous: on a loaded two-core CI machine three failing attempts once took over 3 s, and
    /// the client gave up after two, which is right for the client and wrong for a test that
    /// counts attempts.
    static func client(for server: FakeChatCompletionsServer, attemptTimeout: Duration = .seconds(5)) -> ChatCompletionsClient {
        ChatCompletionsClient(
            configuration: .init(
                baseURL: server.baseURL,
                apiKey: "sk-test-secret-key",
                model: "fake-model",
                maxTokens: 256,
                attemptTimeout: attemptTimeout,
                totalTimeout: .seconds(30),
                maxAttempts: 3,
                backoffBase: .milliseconds(10),
                backoffCap: .milliseconds(50)
            ),
            httpClient: .shared,
            logger: Logger(label: "test.llm", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// The events of a streamed body: (event, data) pairs, in order.
    static func events(_ text: String) -> [(event: String, data: [String: Any])] {
        text.components(separatedBy: "\n\n").compactMap { block -> (String, [String: Any])? in
            var event: String?
            var data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data += line.dropFirst(6) }
            }
            guard let event else { return nil }
            return (event, (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:])
        }
    }

    @Test func aStreamedAnswerArrivesPieceByPieceAndIsStoredOnce() async throws {
        try await FakeChatCompletionsServer.withRunning(.stream(chunks: ["Paris ", "is the ", "capital."], interval: .milliseconds(20))) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let reply = try await api.send(
                    .post, "/v1/chat", token: token, json: ["text": "What is the capital of France?"],
                    headers: [.accept: "text/event-stream"]
                )
                #expect(reply.status == .ok)
                #expect(reply.headers[.contentType]?.hasPrefix("text/event-stream") == true)
                let events = Self.events(reply.text)
                #expect(events.map(\.event) == ["delta", "delta", "delta", "done"])
                #expect(events.dropLast().compactMap { $0.data["text"] as? String } == ["Paris ", "is the ", "capital."])
                let done = try #require(events.last?.data)
                let assistant = try #require(done["assistant_message"] as? [String: Any])
                let user = try #require(done["user_message"] as? [String: Any])
                #expect(assistant["content"] as? String == "Paris is the capital.")
                #expect(user["status"] as? String == "done")
                #expect(server.requests.first?.stream == true)

                let conversation = try #require(done["conversation_id"] as? String)
                let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
                #expect(history.items.map { $0["role"] as? String } == ["user", "assistant"], "exactly one answer stored")
                #expect(history.items.last?["content"] as? String == "Paris is the capital.")
            }
        }
    }

    @Test func aStreamThatFailsEndsWithAnErrorEventAndAFailedMessage() async throws {
        try await FakeChatCompletionsServer.withRunning(.error(400, message: "bad request")) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let reply = try await api.send(.post, "/v1/chat", token: token, json: ["text": "Hi"], headers: [.accept: "text/event-stream"])
                let events = Self.events(reply.text)
                #expect(events.map(\.event) == ["error"])
                let error = try #require(events.first?.data["error"] as? [String: Any])
                #expect(error["code"] as? String == "llm_rejected")
                let conversations = try await api.send(.get, "/v1/conversations", token: token)
                let conversation = try #require(conversations.items.first?["id"] as? String)
                let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
                #expect(history.items.map { $0["status"] as? String } == ["failed"])
            }
        }
    }

    @Test func chatWithAnOpenAICompatibleServerStoresBothMessages() async throws {
        try await FakeChatCompletionsServer.withRunning(.reply("Paris is the capital of France.")) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let reply = try await api.send(.post, "/v1/chat", token: token, json: ["text": "What is the capital of France?\nThanks"])
                #expect(reply.status == .ok)
                let conversation = try #require(reply["conversation_id"] as? String)
                let user = try #require(reply["user_message"] as? [String: Any])
                let assistant = try #require(reply["assistant_message"] as? [String: Any])
                #expect(user["status"] as? String == "done")
                #expect(assistant["content"] as? String == "Paris is the capital of France.")
                #expect(assistant["reply_to"] as? String == user["id"] as? String)
                #expect((assistant["metadata"] as? [String: Any])?["model"] as? String == "fake-model")

                let title = try await api.send(.get, "/v1/conversations/\(conversation)", token: token)["title"] as? String
                #expect(title == "What is the capital of France?")

                // A follow-up carries the history: system, question, answer, new question.
                server.enqueue(.reply("About 2.1 million people."))
                let followUp = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "How many people live there?"])
                #expect(followUp.status == .ok)
                let sent = try #require(server.requests.last)
                #expect(sent.messages.map(\.role) == ["system", "user", "assistant", "user"])
                #expect(sent.messages.last?.content == "How many people live there?")
                #expect(sent.model == "fake-model")
                #expect(sent.fieldNames.contains("max_tokens") && !sent.fieldNames.contains("max_completion_tokens"))
            }
        }
    }

    @Test func rateLimitedThenOKSucceeds() async throws {
        try await FakeChatCompletionsServer.withRunning(
            .error(429, message: "Slow down", type: "rate_limit_error", retryAfter: "0"),
            .reply("Second time lucky.")
        ) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let reply = try await api.send(.post, "/v1/chat", token: token, json: ["text": "Hello?"])
                #expect(reply.status == .ok)
                #expect((reply["assistant_message"] as? [String: Any])?["content"] as? String == "Second time lucky.")
                #expect(server.requestCount == 2)
            }
        }
    }

    @Test func serverErrorForeverFailsTheMessageWith502() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .status(500, body: #"{"error":{"message":"boom"}}"#)) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                let reply = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "Anyone there?"])
                #expect(reply.status == .badGateway)
                #expect(reply.errorCode == "llm_error")
                #expect(server.requestCount == 3)
                #expect(!reply.json.description.contains("sk-test-secret-key"))

                let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
                #expect(history.items.count == 1)
                let kept = try #require(history.items.first)
                #expect(kept["status"] as? String == "failed")
                #expect(kept["content"] as? String == "Anyone there?")
                #expect((kept["error"] as? String)?.isEmpty == false)
            }
        }
    }

    @Test func tooSlowIs504NotAHang() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .delay(.seconds(30), then: .echo)) { server in
            try await withAPI(provider: Self.client(for: server, attemptTimeout: .milliseconds(300))) { api in
                let (token, _) = try await api.registerUser()
                let reply = try await api.send(.post, "/v1/chat", token: token, json: ["text": "Take your time."])
                #expect(reply.status == .gatewayTimeout)
                #expect(reply.errorCode == "llm_timeout")
            }
        }
    }

    @Test func malformedJSONIs502AndNoAnswerIsStored() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .malformedJSON) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                let reply = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "Parse this."])
                #expect(reply.status == .badGateway)
                #expect(reply.errorCode == "llm_bad_response")
                let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages", token: token)
                #expect(history.items.map { $0["role"] as? String } == ["user"])
            }
        }
    }

    @Test func offlineExtractiveAnswerSaysItIsOffline() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let text = """
                The quarterly report shows revenue grew by twelve percent. Costs stayed flat across all regions. \
                The board approved a new office in Lisbon. Hiring will focus on engineering and support.
                """
            let reply = try await api.send(.post, "/v1/chat", token: token, json: ["text": text])
            #expect(reply.status == .ok)
            let assistant = try #require(reply["assistant_message"] as? [String: Any])
            let content = try #require(assistant["content"] as? String)
            #expect(content.lowercased().contains("offline"))
            #expect(content.contains("revenue grew by twelve percent"))
            #expect((assistant["metadata"] as? [String: Any])?["offline"] as? Bool == true)
        }
    }

    @Test func badChatInput() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            #expect(try await api.send(.post, "/v1/chat", token: token, json: ["text": "   "]).status == .unprocessableContent)
            #expect(try await api.send(.post, "/v1/chat", token: token, json: [:]).status == .badRequest)
            let unknown = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": UUID().uuidString, "text": "hi"])
            #expect(unknown.status == .notFound)
            let badID = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": "nope", "text": "hi"])
            #expect(badID.status == .badRequest)
            #expect(badID.errorField == "conversation_id")
        }
    }
}
