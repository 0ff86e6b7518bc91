import Foundation
import Logging
import PostgresNIO
import ScribeChat
import ScribeLLM
import ScribeLLMTesting
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// With an embeddings service configured, a document's passages are
/// embedded by the worker's own stage (retried when the service fails, each
/// passage once), and a question finds the passage that answers it by
/// meaning, even when they share no word.
@Suite struct SemanticRetrievalTests {
    /// A delivery agreement too long to go into the prompt whole: one
    /// sentence repeated, and deep inside it the one about ending it.
    static let agreement: String = (1...200).map { index in
        index == 131
            ? "Either party may cancel this agreement with sixty days written notification."
            : "The supplier delivers fresh goods to the warehouse every week."
    }.joined(separator: " ")

    static let quiet = Logger(label: "test.semantic", factory: { _ in SwiftLogNoOpLogHandler() })

    static func count(_ sql: PostgresQuery, _ database: Database) async throws -> Int {
        try await database.withConnection { connection in
            for try await value in try await connection.query(sql, logger: quiet).decode(Int.self) { return value }
            return -1
        }
    }

    /// The fake's chat completions, one attempt each.
    static func chatClient(_ server: FakeChatCompletionsServer) -> ChatCompletionsClient {
        ChatCompletionsClient(
            configuration: .init(baseURL: server.baseURL, model: "fake", attemptTimeout: .seconds(10), totalTimeout: .seconds(30), maxAttempts: 1),
            httpClient: .shared,
            logger: quiet
        )
    }

    @Test func aPassageThatSharesNoWordWithTheQuestionIsFoundByMeaningAndEmbeddedOnce() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .reply("Sixty days' notice.")) { server in
            let llm = Self.chatClient(server)
            let embedder = EmbeddingsClient(
                configuration: .init(baseURL: server.baseURL, model: "fake-embedding", timeout: .seconds(10), batchSize: 4),
                httpClient: .shared,
                logger: Self.quiet
            )
            // The service is warming up: the stage's first attempt fails and is retried.
            server.enqueueEmbeddings(.status(503, body: #"{"error": {"message": "warming up"}}"#))
            let semantic = SemanticRetrieval(embedder: embedder, minimumSimilarity: 0.15, logger: Self.quiet)
            try await withPipeline(provider: llm, semantic: semantic) { api in
                let database = api.stores.database
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                let file = APIClient.FilePart(filename: "agreement.txt", contentType: "text/plain", bytes: Array(Self.agreement.utf8))
                let upload = try await api.upload(token: token, conversationID: conversation, files: [file])
                let messageID = try #require(upload["message_id"] as? String)
                let message = try await api.waitForMessage(messageID, token: token)
                #expect(message["status"] as? String == "done")
                let id = try #require(UUID(uuidString: messageID))

                // Every passage embedded, once, by one job that was retried once.
                let passages = try await Self.count("SELECT count(*) FROM passages WHERE message_id = \(id)", database)
                #expect(passages > 4)
                try await waitUntil("every passage is embedded", timeout: .seconds(60)) {
                    try await Self.count("SELECT count(*) FROM passages WHERE message_id = \(id) AND embedding IS NULL", database) == 0
                }
                #expect(
                    try await Self.count(
                        "SELECT count(*) FROM passages WHERE message_id = \(id) AND cardinality(embedding) = \(FakeEmbedding.dimensions) AND embedding_model = 'fake-embedding' AND length(embedding_bits) = \(FakeEmbedding.dimensions)",
                        database
                    ) == passages
                )
                // Its success is acknowledged in a batch, a moment after the last save.
                try await waitUntil("the embedding job has succeeded", timeout: .seconds(30)) {
                    try await Self.count("SELECT count(*) FROM jobs WHERE kind = 'embed_passages' AND state <> 'succeeded'", database) == 0
                }
                let jobs = try await Self.count("SELECT count(*) FROM jobs WHERE kind = 'embed_passages' AND state = 'succeeded'", database)
                let attempts = try await Self.count("SELECT coalesce(sum(attempt), 0)::int8 FROM jobs WHERE kind = 'embed_passages'", database)
                #expect(jobs == 1 && attempts == 2, "one job, its first attempt refused: \(jobs) jobs, \(attempts) attempts")
                // The refused batch, then each passage once.
                #expect(server.embeddingCounts.texts == passages + min(4, passages))

                // Full-text search alone finds nothing: the question's words are not in the text.
                let conversationID = try #require(UUID(uuidString: conversation))
                let lexical = try await api.stores.passages.search(conversationID: conversationID, question: "When does the deal end?", limit: 10)
                #expect(lexical.isEmpty)

                let reply = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "When does the deal end?"])
                #expect(reply.status == .ok)
                let prompt = try #require(server.requests.last(where: { $0.lastUserMessage != nil })?.lastUserMessage)
                #expect(prompt.contains("cancel this agreement with sixty days written notification"))
                #expect(prompt.contains("[Document: agreement.txt, page 1]"))
                let assistant = try #require(reply["assistant_message"] as? [String: Any])
                let sources = try #require(assistant["sources"] as? [[String: Any]])
                #expect(sources.first?["filename"] as? String == "agreement.txt")
                #expect((sources.first?["snippet"] as? String) != nil)

                // A question about nothing in it gets no passage and no source.
                let unrelated = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "Who won the football match yesterday?"])
                let unrelatedSources = (unrelated["assistant_message"] as? [String: Any])?["sources"] as? [[String: Any]]
                #expect(unrelatedSources?.isEmpty == true)
                let unrelatedPrompt = try #require(server.requests.last(where: { $0.lastUserMessage != nil })?.lastUserMessage)
                #expect(!unrelatedPrompt.contains("[Document:"))
            }
        }
    }

    @Test func anEmbeddingsServiceThatIsDownLeavesFullTextSearchAnswering() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .reply("Ninety days.")) { server in
            let llm = Self.chatClient(server)
            // Nothing listens on port 9: every embedding fails at once.
            let embedder = EmbeddingsClient(configuration: .init(baseURL: "http://127.0.0.1:9/v1", model: "down", timeout: .seconds(2)), httpClient: .shared, logger: Self.quiet)
            let semantic = SemanticRetrieval(embedder: embedder, minimumSimilarity: 0.15, logger: Self.quiet)
            try await withPipeline(provider: llm, semantic: semantic) { api in
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                let text = Self.agreement.replacingOccurrences(of: "cancel this agreement", with: "terminate this agreement")
                let file = APIClient.FilePart(filename: "agreement.txt", contentType: "text/plain", bytes: Array(text.utf8))
                let upload = try await api.upload(token: token, conversationID: conversation, files: [file])
                let message = try await api.waitForMessage(try #require(upload["message_id"] as? String), token: token)
                #expect(message["status"] as? String == "done")
                let started = ContinuousClock.now
                let reply = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "How can the agreement be terminated?"])
                #expect(reply.status == .ok)
                #expect(ContinuousClock.now - started < .seconds(20))
                let prompt = try #require(server.requests.last(where: { $0.lastUserMessage != nil })?.lastUserMessage)
                #expect(prompt.contains("terminate this agreement with sixty days"))
            }
        }
    }
}
