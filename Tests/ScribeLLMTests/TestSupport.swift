import AsyncHTTPClient
import Logging
import ScribeLLM
import ScribeLLMTesting

/// The API key used in tests; it must never appear in an error message.
let testAPIKey = "sk-test-9f8e7d6c5b4a"

/// A configuration pointed at `server` with small backoff so retries are quick.
func testConfiguration(
    _ server: FakeChatCompletionsServer,
    apiKey: String? = testAPIKey,
    maxTokens: Int? = 256,
    temperature: Double? = nil,
    attemptTimeout: Duration = .seconds(5),
    totalTimeout: Duration = .seconds(10),
    maxAttempts: Int = 4
) -> ChatCompletionsClient.Configuration {
    ChatCompletionsClient.Configuration(
        baseURL: server.baseURL,
        apiKey: apiKey,
        model: "fake-model-1",
        maxTokens: maxTokens,
        temperature: temperature,
        attemptTimeout: attemptTimeout,
        totalTimeout: totalTimeout,
        maxAttempts: maxAttempts,
        backoffBase: .milliseconds(10),
        backoffCap: .milliseconds(50)
    )
}

/// Runs `body` with a client over a fresh `HTTPClient`, which is shut down afterwards.
func withClient<T>(
    _ configuration: ChatCompletionsClient.Configuration,
    httpConfiguration: HTTPClient.Configuration = HTTPClient.Configuration(),
    isolation: isolated (any Actor)? = #isolation,
    _ body: (ChatCompletionsClient) async throws -> T
) async throws -> T {
    let httpClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfiguration)
    var logger = Logger(label: "ScribeLLMTests")
    logger.logLevel = .critical
    let client = ChatCompletionsClient(configuration: configuration, httpClient: httpClient, logger: logger)
    do {
        let result = try await body(client)
        try await httpClient.shutdown()
        return result
    } catch {
        try? await httpClient.shutdown()
        throw error
    }
}

/// The error `complete` throws, or `nil` if it succeeded.
func completionError(_ client: ChatCompletionsClient, _ messages: [ChatMessage] = [.user("Hi")]) async -> LLMError? {
    do {
        _ = try await client.complete(messages)
        return nil
    } catch {
        return error
    }
}

/// Seconds elapsed while running `body`.
func measure<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async rethrows -> (T, Duration) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try await body()
    return (result, clock.now - start)
}
