import Testing

@testable import ScribeConfig

@Suite struct ScribeConfigurationTests {
    @Test func defaultsToTheOfflineProviderAndLocalSettings() throws {
        let configuration = try ScribeConfiguration(environment: [:])
        #expect(configuration.port == 8080)
        #expect(configuration.jwtSecret == nil)
        #expect(configuration.historyCacheBytes == 64 << 20)
        #expect(try ScribeConfiguration(environment: ["HISTORY_CACHE_MB": "0"]).historyCacheBytes == 0)
        guard case .extractive = configuration.llm else {
            Issue.record("expected the extractive provider")
            return
        }
    }

    @Test func openAICompatibleSettings() throws {
        let configuration = try ScribeConfiguration(environment: [
            "LLM_BASE_URL": "http://127.0.0.1:11434/v1", "LLM_MODEL": "llama3", "LLM_MAX_TOKENS": "512",
        ])
        guard case .chatCompletions(let llm) = configuration.llm else {
            Issue.record("expected chat completions")
            return
        }
        #expect(llm.baseURL == "http://127.0.0.1:11434/v1")
        #expect(llm.model == "llama3")
        #expect(llm.apiKey == nil)
        #expect(llm.maxTokens == 512)
        #expect(llm.maxConnections == 32)
        let tuned = try ScribeConfiguration(environment: ["LLM_BASE_URL": "http://127.0.0.1:11434/v1", "LLM_MODEL": "m", "LLM_CONCURRENCY": "64"])
        guard case .chatCompletions(let more) = tuned.llm else { return }
        #expect(more.maxConnections == 64)
    }

    @Test func mistralSeedVariablesAreHonoured() throws {
        let configuration = try ScribeConfiguration(environment: ["MISTRAL_API_KEY": "k", "MISTRAL_MODEL": "mistral-large-latest"])
        guard case .chatCompletions(let llm) = configuration.llm else {
            Issue.record("expected chat completions")
            return
        }
        #expect(llm.baseURL == "https://api.mistral.ai/v1")
        #expect(llm.model == "mistral-large-latest")
        #expect(llm.apiKey == "k")
    }

    @Test(arguments: [
        ["JWT_SECRET": "short"],
        ["PORT": "http"],
        ["PORT": "70000"],
        ["LLM_BASE_URL": "http://x/v1"],
        ["LLM_BASE_URL": "ftp://x/v1", "LLM_MODEL": "m"],
        ["LLM_BASE_URL": "http://x/v1", "LLM_MODEL": "m", "LLM_CONCURRENCY": "0"],
        ["LLM_PROVIDER": "magic"],
        ["LOG_LEVEL": "loud"],
        ["METRICS_PORT": "metrics"],
        ["METRICS_PORT": "70000"],
        ["METRICS_TOKEN": "short"],
        ["EMBEDDINGS_BASE_URL": "http://x/v1"],
        ["EMBEDDINGS_MODEL": "nomic-embed-text"],
        ["EMBEDDINGS_BASE_URL": "file:///v1", "EMBEDDINGS_MODEL": "m"],
        ["EMBEDDINGS_BASE_URL": "http://x/v1", "EMBEDDINGS_MODEL": "m", "EMBEDDINGS_MIN_SIMILARITY": "2"],
        ["EMBEDDINGS_BASE_URL": "http://x/v1", "EMBEDDINGS_MODEL": "m", "EMBEDDINGS_BATCH_SIZE": "0"],
        ["HISTORY_CACHE_MB": "-1"],
        ["HISTORY_CACHE_MB": "lots"],
    ])
    func rejectsBadSettingsNamingTheVariable(_ environment: [String: String]) {
        #expect(throws: ConfigurationError.self) { try ScribeConfiguration(environment: environment) }
    }

    @Test func embeddingsAreOffUnlessAServiceAndAModelAreSet() throws {
        #expect(try ScribeConfiguration(environment: [:]).embeddings == nil)
        let embeddings = try #require(
            try ScribeConfiguration(environment: [
                "EMBEDDINGS_BASE_URL": "http://127.0.0.1:11434/v1", "EMBEDDINGS_MODEL": "nomic-embed-text", "EMBEDDINGS_API_KEY": "secret-key",
                "EMBEDDINGS_CONCURRENCY": "4", "EMBEDDINGS_MIN_SIMILARITY": "0.55",
            ]).embeddings
        )
        #expect(embeddings.model == "nomic-embed-text" && embeddings.concurrency == 4 && embeddings.minimumSimilarity == 0.55)
        #expect(embeddings.batchSize == 32 && embeddings.timeout == .seconds(10))
        #expect(!embeddings.description.contains("secret-key"))
    }

    @Test func metricsAreOnTheAPIPortUnlessAPortOfTheirOwnIsSet() throws {
        let defaults = try ScribeConfiguration(environment: [:])
        #expect(defaults.metricsPort == nil)
        #expect(defaults.metricsToken == nil)
        let own = try ScribeConfiguration(environment: ["METRICS_PORT": "9100", "METRICS_TOKEN": "0123456789abcdef"])
        #expect(own.metricsPort == 9100)
        #expect(own.metricsToken == "0123456789abcdef")
    }

    @Test func errorsNeverEchoTheSecret() {
        do {
            _ = try ScribeConfiguration(environment: ["JWT_SECRET": "tiny-secret-value"])
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("tiny-secret-value"))
            #expect(error.variable == "JWT_SECRET")
        }
    }
}
