import AsyncHTTPClient
import Logging
import ScribeLLM
import ScribeLLMTesting
import Testing

/// Answers overlap only as far as the HTTP client's connections to the
/// provider allow: AsyncHTTPClient keeps 8 per host unless told otherwise.
@Suite("Connections to the LLM provider")
struct ConnectionLimitTests {
    /// Sends `count` chats at once through `httpClient` (shut down afterwards) to a
    /// provider that holds each for three seconds, and returns how many it was
    /// answering at the same time at most.
    private func mostInFlight(count: Int, httpClient: HTTPClient) async throws -> Int {
        do {
            let most = try await mostInFlight(count: count, using: httpClient)
            try await httpClient.shutdown()
            return most
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
    }

    private func mostInFlight(count: Int, using httpClient: HTTPClient) async throws -> Int {
        try await FakeChatCompletionsServer.withRunning(default: .delay(.seconds(3), then: .echo)) { server in
            var logger = Logger(label: "ConnectionLimitTests")
            logger.logLevel = .critical
            let client = ChatCompletionsClient(configuration: testConfiguration(server, attemptTimeout: .seconds(20), totalTimeout: .seconds(60)), httpClient: httpClient, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask { _ = try await client.complete([.user("question \(index)")]) }
                }
                try await group.waitForAll()
            }
            #expect(server.requestCount == count)
            return server.mostRequestsInFlight
        }
    }

    @Test("Scribe's client keeps LLM_CONCURRENCY requests in flight to one host")
    func scribeClientOverlapsEveryAnswer() async throws {
        let server = "http://127.0.0.1:1/v1"
        let httpClient = ChatCompletionsClient.makeHTTPClient(for: .init(baseURL: server, model: "m", maxConnections: 32))
        // All 32 at once on an idle machine; on a loaded one the last may arrive as the
        // first are answered. Either way far past the default pool's 8.
        #expect(try await mostInFlight(count: 32, httpClient: httpClient) >= 24)
    }

    @Test("AsyncHTTPClient's default pool answers only 8 at a time: the limit issue 10 found")
    func defaultPoolQueuesPastEight() async throws {
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration())
        #expect(try await mostInFlight(count: 16, httpClient: httpClient) == 8)
    }
}
