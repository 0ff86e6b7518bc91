import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// Turns texts into vectors with an OpenAI-compatible `POST …/embeddings`
/// (OpenAI, Ollama, vLLM, LM Studio) for semantic retrieval.
///
/// Each call is one request bounded by ``Configuration/timeout`` from
/// sending to the last byte of the answer. It does not retry: the worker's
/// embedding stage is retried by the queue (honouring `Retry-After`), and a
/// question's embedding that fails is answered by full-text search alone.
/// Failures are ``LLMError``s, with the chat client's mapping of statuses
/// (429, 408, 409 and 5xx retryable; other 4xx rejected).
///
/// The caller owns the `HTTPClient` and shuts it down.
public struct EmbeddingsClient: Sendable {
    /// Where and how to ask.
    public struct Configuration: Sendable, CustomStringConvertible {
        /// The API root including the version path, e.g. `http://127.0.0.1:11434/v1`;
        /// requests go to `baseURL + "/embeddings"`.
        public var baseURL: String
        /// The bearer token; nil or empty sends none.
        public var apiKey: String?
        /// The embedding model, e.g. `text-embedding-3-small` or `nomic-embed-text`.
        public var model: String
        /// Bounds one request, body included.
        public var timeout: Duration
        /// The most texts sent in one request.
        public var batchSize: Int
        /// The largest answer accepted.
        public var maxResponseBytes: Int

        public init(baseURL: String, apiKey: String? = nil, model: String, timeout: Duration = .seconds(30), batchSize: Int = 32, maxResponseBytes: Int = 64 * 1024 * 1024) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.model = model
            self.timeout = timeout
            self.batchSize = max(1, batchSize)
            self.maxResponseBytes = maxResponseBytes
        }

        /// `baseURL` without trailing slashes, plus `/embeddings` (unless it ends with it).
        public var endpointURL: String {
            var root = baseURL.trimmingWhitespace()
            while root.hasSuffix("/") { root.removeLast() }
            return root.hasSuffix("/embeddings") ? root : root + "/embeddings"
        }

        var bearerToken: String? {
            guard let key = apiKey?.trimmingWhitespace(), !key.isEmpty else { return nil }
            return key
        }

        /// Printed without the key.
        public var description: String {
            "EmbeddingsClient.Configuration(baseURL: \(baseURL), model: \(model), apiKey: \(bearerToken == nil ? "none" : "<redacted>"))"
        }
    }

    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let logger: Logger

    /// The HTTP client to ask a provider with, up to `maxConnections` requests
    /// at once (the caller shuts it down).
    public static func makeHTTPClient(maxConnections: Int) -> HTTPClient {
        HTTPClient.forProvider(maxConnections: maxConnections)
    }

    /// A client over `httpClient` (kept alive and shut down by the caller).
    public init(configuration: Configuration, httpClient: HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
    }

    /// One vector per text, in order, all of the same length (at most
    /// ``Configuration/batchSize`` texts a call).
    public func embed(_ texts: [String]) async throws(LLMError) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        precondition(texts.count <= configuration.batchSize, "at most batchSize texts a call")
        let request = try makeRequest(texts)
        let timeout = configuration.timeout
        let timeoutMessage = "The embeddings service did not answer within \(timeout.readable)."
        let outcome = await ProviderFailures.racing(timeout, timeoutMessage: timeoutMessage, service: "embeddings") {
            await self.send(request, count: texts.count, timeoutMessage: timeoutMessage)
        }
        return try outcome.get()
    }

    private var failures: ProviderFailures {
        ProviderFailures(
            service: "embeddings",
            endpointURL: configuration.endpointURL,
            baseURL: configuration.baseURL,
            bearerToken: configuration.bearerToken,
            maxResponseBytes: configuration.maxResponseBytes
        )
    }

    private func makeRequest(_ texts: [String]) throws(LLMError) -> HTTPClientRequest {
        let data: Data
        do {
            data = try JSONEncoder().encode(EmbeddingsRequestBody(model: configuration.model, input: texts))
        } catch {
            throw LLMError(.rejected, message: "The embeddings request could not be encoded as JSON.")
        }
        var request = HTTPClientRequest(url: configuration.endpointURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let token = configuration.bearerToken {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        request.body = .bytes(ByteBuffer(data: data))
        return request
    }

    private func send(_ request: HTTPClientRequest, count: Int, timeoutMessage: String) async -> Result<[[Float]], LLMError> {
        do {
            let response = try await httpClient.execute(request, deadline: .now() + configuration.timeout.timeAmount, logger: logger)
            let status = Int(response.status.code)
            let body = try await response.body.collect(upTo: configuration.maxResponseBytes)
            guard (200..<300).contains(status) else {
                let retryAfter = RetryAfter.delay(
                    retryAfterMilliseconds: response.headers.first(name: "retry-after-ms"),
                    retryAfter: response.headers.first(name: "retry-after")
                )
                return .failure(failures.error(forStatus: status, reason: response.status.reasonPhrase, body: body, retryAfter: retryAfter))
            }
            return decode(body, count: count, status: status)
        } catch {
            return .failure(failures.error(forTransportFailure: error, timeoutMessage: timeoutMessage))
        }
    }

    private func decode(_ body: ByteBuffer, count: Int, status: Int) -> Result<[[Float]], LLMError> {
        guard let decoded = try? JSONDecoder().decode(EmbeddingsResponseBody.self, from: body) else {
            return .failure(LLMError(.invalidResponse, message: "The embeddings service answered HTTP \(status) with a body that is not a list of embeddings.", statusCode: status))
        }
        let ordered = decoded.data.sorted { ($0.index ?? 0) < ($1.index ?? 0) }.map(\.embedding)
        guard ordered.count == count else {
            return .failure(LLMError(.invalidResponse, message: "The embeddings service answered \(ordered.count) embeddings for \(count) texts.", statusCode: status))
        }
        guard let dimensions = ordered.first?.count, dimensions > 0, ordered.allSatisfy({ $0.count == dimensions }),
            ordered.allSatisfy({ $0.allSatisfy(\.isFinite) })
        else {
            return .failure(LLMError(.invalidResponse, message: "The embeddings service answered vectors that are empty, of different lengths or not finite.", statusCode: status))
        }
        return .success(ordered)
    }
}

/// `POST /embeddings`'s body.
struct EmbeddingsRequestBody: Encodable {
    var model: String
    var input: [String]
}

/// The part of `/embeddings`' answer Scribe reads.
struct EmbeddingsResponseBody: Decodable {
    struct Item: Decodable {
        var index: Int?
        var embedding: [Float]
    }

    var data: [Item]
}
