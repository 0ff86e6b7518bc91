import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOFoundationCompat
import Synchronization

/// An ``LLMProvider`` that calls an OpenAI-compatible Chat Completions API (OpenAI, Mistral,
/// vLLM, Ollama, llama.cpp server…) over AsyncHTTPClient.
///
/// Each call is bounded twice: ``Configuration/attemptTimeout`` limits one request including its
/// whole body, ``Configuration/totalTimeout`` limits every attempt plus the waits between them.
/// Rate limits (429, 408, 409), 5xx answers, connection failures and timeouts are retried with
/// capped exponential backoff and full jitter, honouring `Retry-After`; rejected requests
/// (400/401/403/404/422, other 4xx, `insufficient_quota`) and unusable answers are not.
///
/// The caller owns the `HTTPClient` and shuts it down.
public struct ChatCompletionsClient: LLMProvider {
    /// Where to send requests and how hard to try.
    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let logger: Logger
    private let metrics: LLMMetrics

    /// `"chat-completions"`.
    public var name: String { "chat-completions" }

    /// Creates a client.
    ///
    /// With AsyncHTTPClient's default pool settings a refused connection is retried inside the
    /// pool until the attempt's deadline; set `connectionPool.retryConnectionEstablishment` to
    /// `false` on the `HTTPClient` to have each attempt fail at once instead.
    /// - Parameters:
    ///   - configuration: Endpoint, model, timeouts and retry policy.
    ///   - httpClient: The HTTP client to use; the caller keeps it alive and shuts it down.
    ///   - logger: Where attempts and retries are logged (never with the API key).
    ///   - metricsFactory: Where retried attempts are counted (`scribe_llm_retries_total`, see
    ///     ``LLMMetrics``): the process's bootstrapped backend unless a test passes its own.
    public init(configuration: Configuration, httpClient: HTTPClient, logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
        self.metrics = LLMMetrics(provider: "chat-completions", factory: metricsFactory)
    }

    /// The HTTP client Scribe talks to a provider with (the caller shuts it down).
    ///
    /// - Up to ``Configuration/maxConnections`` connections to the provider
    ///   at once. AsyncHTTPClient's default is 8 per host, and requests past
    ///   it wait for a free connection: 32 answers of 3 s each would take 12 s
    ///   instead of 3.
    /// - A refused connection fails the attempt at once (the client's own
    ///   backoff retries it) instead of spinning inside the pool until the deadline.
    public static func makeHTTPClient(for configuration: Configuration) -> HTTPClient {
        HTTPClient.forProvider(maxConnections: configuration.maxConnections)
    }

    /// Sends the conversation and returns the first choice's answer, retrying transient failures.
    public func complete(_ messages: [ChatMessage]) async throws(LLMError) -> ChatCompletion {
        try await run(messages, relay: nil)
    }

    /// Asks for the answer as a stream (`"stream": true`) and tells `onDelta`
    /// each piece as it arrives. Transient failures are retried only until the
    /// first piece has been told: a retry would tell the beginning again.
    public func stream(_ messages: [ChatMessage], onDelta: @escaping AnswerDeltas) async throws(LLMError) -> ChatCompletion {
        try await run(messages, relay: DeltaRelay(onDelta))
    }

    private func run(_ messages: [ChatMessage], relay: DeltaRelay?) async throws(LLMError) -> ChatCompletion {
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started + configuration.totalTimeout
        let request = try makeRequest(messages, stream: relay != nil)
        let maxAttempts = max(1, configuration.maxAttempts)
        var attempt = 0

        while true {
            attempt += 1
            if Task.isCancelled {
                throw LLMError(.cancelled, message: "The LLM request was cancelled before attempt \(attempt).")
            }
            let remaining = deadline - clock.now
            let attemptTimeout = min(configuration.attemptTimeout, remaining)
            logger.debug(
                "Sending chat completion request",
                metadata: [
                    "llm.attempt": "\(attempt)", "llm.model": "\(configuration.model)",
                    "llm.url": "\(configuration.endpointURL)", "llm.messages": "\(messages.count)",
                ]
            )

            let error: LLMError
            switch await performAttempt(
                request,
                timeout: attemptTimeout,
                endsTotalBudget: attemptTimeout < configuration.attemptTimeout,
                relay: relay
            ) {
            case .success(let completion):
                logger.debug(
                    "Chat completion received",
                    metadata: [
                        "llm.attempt": "\(attempt)", "llm.model": "\(completion.model)",
                        "llm.duration": "\((clock.now - started).readable)",
                        "llm.total_tokens": "\(completion.usage?.totalTokens.description ?? "unknown")",
                    ]
                )
                return completion
            case .failure(let failure):
                error = failure
            }

            guard error.isRetryable, error.kind != .cancelled, relay?.hasDelivered != true else {
                logFailure(error, attempt: attempt, note: relay?.hasDelivered == true ? "not retrying: part of the answer was streamed" : "not retrying")
                throw error
            }
            guard attempt < maxAttempts else {
                logFailure(error, attempt: attempt, note: "giving up: no attempts left")
                throw error.appending("Gave up after \(attempt) attempts.")
            }
            let left = deadline - clock.now
            let delay: Duration
            if let retryAfter = error.retryAfter {
                guard retryAfter < left else {
                    logFailure(error, attempt: attempt, note: "giving up: Retry-After exceeds the time left")
                    throw error.appending(
                        "The service asked to wait \(retryAfter.readable), more than the \(max(left, .zero).readable) left of the \(configuration.totalTimeout.readable) budget."
                    )
                }
                delay = retryAfter
            } else {
                delay = min(backoff(afterAttempt: attempt), left)
            }
            guard left > .zero, left - delay > .milliseconds(1) else {
                logFailure(error, attempt: attempt, note: "giving up: total timeout reached")
                throw error.appending("Gave up after \(attempt) attempts: the \(configuration.totalTimeout.readable) total timeout ran out.")
            }
            metrics.retried(error.kind)
            logger.warning(
                "LLM attempt failed; retrying",
                metadata: [
                    "llm.attempt": "\(attempt)", "llm.error.kind": "\(error.kind)",
                    "llm.status": "\(error.statusCode.map(String.init) ?? "none")",
                    "llm.retry_in": "\(delay.readable)", "llm.error": "\(error.message)",
                ]
            )
            do {
                try await Task.sleep(for: delay)
            } catch {
                throw LLMError(.cancelled, message: "The LLM request was cancelled while waiting to retry.")
            }
        }
    }

    // MARK: - One attempt

    /// Runs one request, racing it against `timeout`; the loser is cancelled.
    private func performAttempt(
        _ request: HTTPClientRequest,
        timeout: Duration,
        endsTotalBudget: Bool,
        relay: DeltaRelay?
    ) async -> Result<ChatCompletion, LLMError> {
        guard timeout > .zero else {
            return .failure(LLMError(.timeout, message: "The LLM request ran out of its \(configuration.totalTimeout.readable) total timeout."))
        }
        let timeoutMessage =
            endsTotalBudget
            ? "The LLM service did not answer within the \(configuration.totalTimeout.readable) total timeout."
            : "The LLM service did not answer within \(timeout.readable)."
        return await ProviderFailures.racing(timeout, timeoutMessage: timeoutMessage, service: "LLM") {
            await self.send(request, timeout: timeout, timeoutMessage: timeoutMessage, relay: relay)
        }
    }

    /// Sends the request, collects the whole (capped) body, or reads the
    /// stream piece by piece, and interprets it.
    private func send(
        _ request: HTTPClientRequest,
        timeout: Duration,
        timeoutMessage: String,
        relay: DeltaRelay?
    ) async -> Result<ChatCompletion, LLMError> {
        do {
            // AsyncHTTPClient's deadline bounds only the response head. It is set a little before
            // the attempt's own timer so that, when the head is late, AHC fails first with the real
            // reason (e.g. the last "connection refused") rather than a bare timeout.
            let headTimeout = timeout - min(timeout / 10, .milliseconds(50))
            let response = try await httpClient.execute(request, deadline: .now() + headTimeout.timeAmount, logger: logger)
            let status = Int(response.status.code)
            if let relay, (200..<300).contains(status), response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true {
                return try await readStream(response.body, status: status, relay: relay)
            }
            let body = try await response.body.collect(upTo: configuration.maxResponseBytes)
            guard (200..<300).contains(status) else {
                return .failure(
                    errorForStatus(
                        status,
                        reason: response.status.reasonPhrase,
                        body: body,
                        retryAfter: RetryAfter.delay(
                            retryAfterMilliseconds: response.headers.first(name: "retry-after-ms"),
                            retryAfter: response.headers.first(name: "retry-after")
                        )
                    )
                )
            }
            let completion = decodeCompletion(body, status: status)
            // A server that ignored `"stream": true` answered in one piece.
            if let relay, case .success(let answer) = completion { await relay.deliver(answer.content) }
            return completion
        } catch {
            return .failure(errorForTransportFailure(error, timeoutMessage: timeoutMessage))
        }
    }

    /// Reads a streamed answer: `data: {chunk}` lines until `data: [DONE]`,
    /// each chunk's text told to `relay` as it comes. Throws what the
    /// transport throws (a dropped connection, the attempt's cancellation).
    private func readStream(_ body: HTTPClientResponse.Body, status: Int, relay: DeltaRelay) async throws -> Result<ChatCompletion, LLMError> {
        // Bytes, not text, until a line is whole: a chunk may end inside a character.
        var pending = ByteBuffer()
        var content = ""
        var model: String?
        var usage: TokenUsage?
        var done = false
        reading: for try await buffer in body {
            guard pending.readableBytes + buffer.readableBytes <= configuration.maxResponseBytes else {
                return .failure(
                    LLMError(.invalidResponse, message: "The LLM service streamed a line longer than \(configuration.maxResponseBytes) bytes.", statusCode: status)
                )
            }
            pending.writeImmutableBuffer(buffer)
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let line = (pending.readString(length: newline - pending.readerIndex) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                pending.moveReaderIndex(forwardBy: 1)
                pending.discardReadBytes()
                guard line.hasPrefix("data:") else { continue }
                let data = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                if data == "[DONE]" {
                    done = true
                    break reading
                }
                guard let chunk = try? JSONDecoder().decode(ChatCompletionsChunk.self, from: Data(data.utf8)) else {
                    return .failure(
                        LLMError(.invalidResponse, message: "The LLM service streamed a chunk that is not JSON.", statusCode: status)
                    )
                }
                model = chunk.model ?? model
                usage = chunk.usage?.tokenUsage ?? usage
                if let text = chunk.choices?.first?.delta?.content, !text.isEmpty {
                    content += text
                    await relay.deliver(text)
                }
            }
        }
        guard done || !content.isEmpty else {
            return .failure(LLMError(.invalidResponse, message: "The LLM service ended its stream without an answer.", statusCode: status))
        }
        return .success(ChatCompletion(content: content, model: model ?? configuration.model, usage: usage, isOffline: false))
    }

    // MARK: - Building the request

    private func makeRequest(_ messages: [ChatMessage], stream: Bool) throws(LLMError) -> HTTPClientRequest {
        let body = ChatCompletionsRequestBody(
            model: configuration.model,
            messages: messages,
            maxTokens: configuration.maxTokens,
            temperature: configuration.temperature,
            stream: stream
        )
        let data: Data
        do {
            data = try JSONEncoder().encode(body)
        } catch {
            throw LLMError(.rejected, message: "The chat request could not be encoded as JSON.")
        }
        var request = HTTPClientRequest(url: configuration.endpointURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: stream ? "text/event-stream" : "application/json")
        if let token = configuration.bearerToken {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        request.body = .bytes(ByteBuffer(data: data))
        return request
    }

    // MARK: - Interpreting answers

    private func decodeCompletion(_ body: ByteBuffer, status: Int) -> Result<ChatCompletion, LLMError> {
        let decoded: ChatCompletionsResponseBody
        do {
            decoded = try JSONDecoder().decode(ChatCompletionsResponseBody.self, from: body)
        } catch {
            let preview = String(decoding: body.readableBytesView.prefix(120), as: UTF8.self)
            return .failure(
                LLMError(
                    .invalidResponse,
                    message: redacted("The LLM service answered HTTP \(status) with a body that is not a chat completion (\(body.readableBytes) bytes starting “\(preview.truncated(to: 80))”)."),
                    statusCode: status
                )
            )
        }
        guard let choice = decoded.choices?.first else {
            let detail = APIErrorBody(parsing: body).message.map { ": \($0)" } ?? "."
            return .failure(
                LLMError(
                    .invalidResponse,
                    message: redacted("The LLM service answered HTTP \(status) without any choices\(detail)".truncated(to: 300)),
                    statusCode: status
                )
            )
        }
        guard let content = choice.message?.content else {
            return .failure(
                LLMError(.invalidResponse, message: "The LLM service answered without message content in its first choice.", statusCode: status)
            )
        }
        return .success(
            ChatCompletion(
                content: content.text,
                model: decoded.model ?? configuration.model,
                usage: decoded.usage?.tokenUsage,
                isOffline: false
            )
        )
    }

    private var failures: ProviderFailures {
        ProviderFailures(
            service: "LLM",
            endpointURL: configuration.endpointURL,
            baseURL: configuration.baseURL,
            bearerToken: configuration.bearerToken,
            maxResponseBytes: configuration.maxResponseBytes
        )
    }

    private func errorForStatus(_ status: Int, reason: String, body: ByteBuffer, retryAfter: Duration?) -> LLMError {
        failures.error(forStatus: status, reason: reason, body: body, retryAfter: retryAfter)
    }

    private func errorForTransportFailure(_ error: any Error, timeoutMessage: String) -> LLMError {
        failures.error(forTransportFailure: error, timeoutMessage: timeoutMessage)
    }

    // MARK: - Helpers

    /// Full-jitter backoff: a random wait between zero and `min(cap, base × 2^(attempt−1))`.
    private func backoff(afterAttempt attempt: Int) -> Duration {
        let ceiling = min(configuration.backoffCap / .seconds(1), configuration.backoffBase / .seconds(1) * pow(2, Double(min(attempt - 1, 30))))
        guard ceiling > 0 else { return .zero }
        return .fromSeconds(Double.random(in: 0...ceiling))
    }

    /// `text` with the API key blanked out, in case a server echoed it back.
    private func redacted(_ text: String) -> String {
        failures.redacted(text)
    }

    private func logFailure(_ error: LLMError, attempt: Int, note: String) {
        logger.warning(
            "LLM request failed; \(note)",
            metadata: [
                "llm.attempt": "\(attempt)", "llm.error.kind": "\(error.kind)",
                "llm.status": "\(error.statusCode.map(String.init) ?? "none")", "llm.error": "\(error.message)",
            ]
        )
    }
}

extension LLMError {
    /// The same error with a sentence added to its message.
    fileprivate func appending(_ sentence: String) -> LLMError {
        var copy = self
        copy.message += " " + sentence
        return copy
    }
}

/// Passes a streamed answer's pieces on, and remembers whether any was passed
/// (after that, an attempt must not be retried).
final class DeltaRelay: Sendable {
    private let onDelta: AnswerDeltas
    private let delivered = Mutex(false)

    init(_ onDelta: @escaping AnswerDeltas) {
        self.onDelta = onDelta
    }

    var hasDelivered: Bool { delivered.withLock { $0 } }

    func deliver(_ text: String) async {
        delivered.withLock { $0 = true }
        await onDelta(text)
    }
}
