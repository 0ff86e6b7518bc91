import AsyncHTTPClient
import Logging
import ScribeLLM
import ScribeLLMTesting
import ScribeTestSupport
import Testing

/// Each provider's calls, their duration, tokens, errors and retries, as a scrape shows them.
@Suite struct LLMMetricsTests {
    /// A measured client over `server` whose metrics (its retries too) go to `metrics`.
    static func withMeasuredClient<T>(
        _ server: FakeChatCompletionsServer,
        _ metrics: TestMetrics,
        maxAttempts: Int = 4,
        _ body: (MeasuredLLMProvider) async throws -> T
    ) async throws -> T {
        let httpClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        var logger = Logger(label: "LLMMetricsTests")
        logger.logLevel = .critical
        let client = ChatCompletionsClient(
            configuration: testConfiguration(server, maxAttempts: maxAttempts),
            httpClient: httpClient,
            logger: logger,
            metricsFactory: metrics.factory
        )
        do {
            let result = try await body(MeasuredLLMProvider(client, factory: metrics.factory))
            try await httpClient.shutdown()
            return result
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
    }

    @Test func anAnswerAfterARateLimitCountsOneCallItsTokensAndOneRetry() async throws {
        let metrics = TestMetrics()
        try await FakeChatCompletionsServer.withRunning(.error(429, message: "Slow down", type: "rate_limit_exceeded")) { server in
            let completion = try await Self.withMeasuredClient(server, metrics) { provider in
                try await provider.complete([.user("Hello")])
            }
            let usage = try #require(completion.usage)
            let samples = metrics.samples
            let provider = ["provider": "chat-completions"]
            #expect(samples.value("scribe_llm_calls_total", provider) == 1, "\(samples)")
            #expect(samples.value("scribe_llm_call_duration_seconds_count", provider) == 1)
            #expect(samples.value("scribe_llm_tokens_total", provider.merging(["type": "prompt"]) { $1 }) == Double(usage.promptTokens))
            #expect(samples.value("scribe_llm_tokens_total", provider.merging(["type": "completion"]) { $1 }) == Double(usage.completionTokens))
            #expect(samples.value("scribe_llm_retries_total", provider.merging(["kind": "rateLimited"]) { $1 }) == 1)
            #expect(samples.value("scribe_llm_errors_total") == nil, "the call itself succeeded")
        }
    }

    @Test func aRefusedCallCountsAsAnErrorOfItsKindAndIsNotTimed() async throws {
        let metrics = TestMetrics()
        try await FakeChatCompletionsServer.withRunning(.error(401, message: "Bad key", type: "invalid_request_error")) { server in
            await #expect(throws: LLMError.self) {
                try await Self.withMeasuredClient(server, metrics) { provider in try await provider.complete([.user("Hello")]) }
            }
            let samples = metrics.samples
            #expect(samples.value("scribe_llm_calls_total", ["provider": "chat-completions"]) == 1)
            #expect(samples.value("scribe_llm_errors_total", ["provider": "chat-completions", "kind": "rejected"]) == 1)
            #expect(samples.value("scribe_llm_call_duration_seconds_count", ["provider": "chat-completions"]) == 0)
            #expect(samples.value("scribe_llm_retries_total") == nil)
        }
    }

    @Test func theOfflineSummariserIsMeasuredUnderItsOwnName() async throws {
        let metrics = TestMetrics()
        let provider = MeasuredLLMProvider(ExtractiveProvider(), factory: metrics.factory)
        #expect(provider.name == "extractive")
        _ = try await provider.stream([.user("Summarise: the invoice total is 1 240 EUR, due on Friday.")]) { _ in }
        let samples = metrics.samples
        #expect(samples.value("scribe_llm_calls_total", ["provider": "extractive"]) == 1)
        #expect(samples.value("scribe_llm_tokens_total", ["provider": "extractive"]).map { $0 > 0 } == true)
    }
}
