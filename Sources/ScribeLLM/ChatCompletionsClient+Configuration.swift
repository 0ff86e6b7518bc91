extension ChatCompletionsClient {
    /// Where and how to call an OpenAI-compatible Chat Completions API, and how hard to try.
    public struct Configuration: Sendable {
        /// The API root including the version path, e.g. `https://api.mistral.ai/v1` or
        /// `http://127.0.0.1:11434/v1`. Requests go to `baseURL + "/chat/completions"`; a
        /// trailing slash is fine.
        public var baseURL: String
        /// The bearer token. `nil` or empty sends no `Authorization` header (local servers).
        public var apiKey: String?
        /// The model name sent with every request, e.g. `mistral-small-latest`.
        public var model: String
        /// The most tokens the answer may have (`max_tokens`); `nil` leaves it to the provider.
        public var maxTokens: Int?
        /// Sampling temperature; `nil` leaves it to the provider.
        public var temperature: Double?
        /// Bounds one attempt from sending the request to the last byte of the body.
        public var attemptTimeout: Duration
        /// Bounds the whole call: every attempt plus the waits between them.
        public var totalTimeout: Duration
        /// How many requests to make at most (the first one included).
        public var maxAttempts: Int
        /// The first retry waits up to this long (full jitter); each later one up to twice as long.
        public var backoffBase: Duration
        /// The longest a computed backoff may be (a provider's `Retry-After` is honoured as is).
        public var backoffCap: Duration
        /// The largest response body accepted; a bigger one is an ``LLMError/Kind/invalidResponse``.
        public var maxResponseBytes: Int
        /// The most connections (so requests in flight) to the provider at
        /// once; see ``ChatCompletionsClient/makeHTTPClient(for:)``.
        public var maxConnections: Int

        /// Creates a configuration.
        /// - Parameters:
        ///   - baseURL: The API root including `/v1`.
        ///   - apiKey: The bearer token, if the server needs one.
        ///   - model: The model to ask.
        ///   - maxTokens: The most tokens the answer may have.
        ///   - temperature: Sampling temperature.
        ///   - attemptTimeout: Bounds one attempt, body included (default 60 s).
        ///   - totalTimeout: Bounds all attempts and backoff (default 120 s).
        ///   - maxAttempts: Requests to make at most (default 4).
        ///   - backoffBase: First backoff ceiling (default 0.5 s).
        ///   - backoffCap: Largest backoff ceiling (default 8 s).
        ///   - maxResponseBytes: Largest accepted body (default 8 MiB).
        ///   - maxConnections: Connections to the provider at once (default 32).
        public init(
            baseURL: String,
            apiKey: String? = nil,
            model: String,
            maxTokens: Int? = nil,
            temperature: Double? = nil,
            attemptTimeout: Duration = .seconds(60),
            totalTimeout: Duration = .seconds(120),
            maxAttempts: Int = 4,
            backoffBase: Duration = .milliseconds(500),
            backoffCap: Duration = .seconds(8),
            maxResponseBytes: Int = 8 * 1024 * 1024,
            maxConnections: Int = 32
        ) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.model = model
            self.maxTokens = maxTokens
            self.temperature = temperature
            self.attemptTimeout = attemptTimeout
            self.totalTimeout = totalTimeout
            self.maxAttempts = maxAttempts
            self.backoffBase = backoffBase
            self.backoffCap = backoffCap
            self.maxResponseBytes = maxResponseBytes
            self.maxConnections = max(1, maxConnections)
        }

        /// The full endpoint URL: `baseURL` without trailing slashes, plus `/chat/completions`
        /// (unless `baseURL` already ends with it).
        public var endpointURL: String {
            var root = baseURL.trimmingWhitespace()
            while root.hasSuffix("/") {
                root.removeLast()
            }
            if root.hasSuffix("/chat/completions") {
                return root
            }
            return root + "/chat/completions"
        }

        /// The API key if it is set and not blank.
        var bearerToken: String? {
            guard let key = apiKey?.trimmingWhitespace(), !key.isEmpty else { return nil }
            return key
        }
    }
}

/// Printed without the key: configurations end up in logs (a service
/// lifecycle's debug lines print the services that hold them).
extension ChatCompletionsClient.Configuration: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        "Configuration(baseURL: \(baseURL), model: \(model), apiKey: \(apiKey?.isEmpty == false ? "<redacted>" : "none"))"
    }

    public var debugDescription: String { description }
}
