import AsyncHTTPClient
import Foundation
import Logging
import ScribeLLM
import ScribeLLMTesting
import Testing

/// The embeddings client against the fake server over loopback HTTP: vectors
/// in the order of the texts; every failure an ``LLMError`` of the right
/// kind, in bounded time, without the key.
@Suite struct EmbeddingsClientTests {
    static func client(_ server: FakeChatCompletionsServer, timeout: Duration = .seconds(5), baseURL: String? = nil) -> EmbeddingsClient {
        EmbeddingsClient(
            configuration: .init(baseURL: baseURL ?? server.baseURL, apiKey: testAPIKey, model: "fake-embedding", timeout: timeout, batchSize: 8),
            httpClient: .shared,
            logger: Logger(label: "test.embeddings", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    @Test func textsComeBackAsVectorsInTheirOrderWithTheKeySent() async throws {
        try await FakeChatCompletionsServer.withRunning { server in
            let texts = ["The notice period is ninety days.", "Штраф составляет пять процентов.", "Invoice INV-2024-0087"]
            let vectors = try await Self.client(server).embed(texts)
            #expect(vectors == texts.map(FakeEmbedding.vector(for:)))
            #expect(vectors.allSatisfy { $0.count == FakeEmbedding.dimensions })
            let request = try #require(server.requests.last)
            #expect(request.path == "/v1/embeddings")
            #expect(request.authorization == "Bearer \(testAPIKey)")
            #expect(server.embeddingCounts == (1, 3))
            #expect(try await Self.client(server).embed([]) == [])
        }
    }

    @Test func failuresAreTypedAndKeepTheKeyOut() async throws {
        try await FakeChatCompletionsServer.withRunning { server in
            let client = Self.client(server)
            server.enqueueEmbeddings(.status(429, body: #"{"error": {"message": "slow down"}}"#, retryAfter: "3"))
            let limited = await #expect(throws: LLMError.self) { try await client.embed(["a text"]) }
            #expect(limited?.kind == .rateLimited && limited?.retryAfter == .seconds(3) && limited?.isRetryable == true)

            server.enqueueEmbeddings(.status(400, body: #"{"error": {"message": "input too long for key \#(testAPIKey)"}}"#))
            let rejected = await #expect(throws: LLMError.self) { try await client.embed(["a text"]) }
            #expect(rejected?.kind == .rejected && rejected?.isRetryable == false)
            #expect(rejected?.message.contains(testAPIKey) == false)
            #expect(rejected?.message.contains("embeddings service answered HTTP 400") == true)

            server.enqueueEmbeddings(.status(503, body: "{}"))
            #expect(await #expect(throws: LLMError.self) { try await client.embed(["a text"]) }?.kind == .unavailable)

            server.enqueueEmbeddings(.malformedJSON)
            #expect(await #expect(throws: LLMError.self) { try await client.embed(["a text"]) }?.kind == .invalidResponse)

            // Slower than the timeout: a timeout within it, not a hang.
            server.enqueueEmbeddings(.delay(.seconds(2), then: .echo))
            let started = ContinuousClock.now
            let slow = await #expect(throws: LLMError.self) { try await Self.client(server, timeout: .milliseconds(500)).embed(["a text"]) }
            #expect(slow?.kind == .timeout)
            #expect(ContinuousClock.now - started < .seconds(3))

            // Nobody listening.
            let down = await #expect(throws: LLMError.self) { try await Self.client(server, baseURL: "http://127.0.0.1:9/v1").embed(["a text"]) }
            #expect(down?.kind == .unavailable || down?.kind == .timeout)
        }
    }

    @Test func theEndpointIsTheBaseURLPlusEmbeddings() {
        let configuration = { (url: String) in EmbeddingsClient.Configuration(baseURL: url, model: "m").endpointURL }
        #expect(configuration("http://localhost:11434/v1") == "http://localhost:11434/v1/embeddings")
        #expect(configuration("http://localhost:11434/v1/") == "http://localhost:11434/v1/embeddings")
        #expect(configuration("https://api.openai.com/v1/embeddings") == "https://api.openai.com/v1/embeddings")
        #expect(!"\(EmbeddingsClient.Configuration(baseURL: "http://x/v1", apiKey: testAPIKey, model: "m"))".contains(testAPIKey))
    }
}
