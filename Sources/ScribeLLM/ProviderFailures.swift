import AsyncHTTPClient
import Foundation
import NIOCore

/// How an OpenAI-compatible service's failures read as ``LLMError``s: the
/// one mapping of HTTP statuses and transport errors that the chat
/// completions and the embeddings clients share.
struct ProviderFailures: Sendable {
    /// What the service is called in messages: `LLM`, `embeddings`.
    var service: String
    var endpointURL: String
    var baseURL: String
    /// The API key, blanked out of every message.
    var bearerToken: String?
    var maxResponseBytes: Int

    /// A non-2xx answer: 429 is rate limited, 408 a timeout, 409 and 5xx
    /// unavailable (all retryable); `insufficient_quota` and other 4xx rejected.
    func error(forStatus status: Int, reason: String, body: ByteBuffer, retryAfter: Duration?) -> LLMError {
        let details = APIErrorBody(parsing: body)
        let kind: LLMError.Kind
        switch status {
        case _ where details.isInsufficientQuota: kind = .rejected
        case 429: kind = .rateLimited
        case 408: kind = .timeout
        case 409: kind = .unavailable
        case 500...599: kind = .unavailable
        default: kind = .rejected
        }
        var message = "The \(service) service answered HTTP \(status) \(reason)"
        if let text = details.message {
            message += ": " + text
        }
        if details.isInsufficientQuota {
            message += " (insufficient quota)"
        }
        message = redacted(message.truncated(to: 300))
        if !message.hasSuffix(".") && !message.hasSuffix("…") {
            message += "."
        }
        return LLMError(kind, message: message, statusCode: status, retryAfter: retryAfter)
    }

    /// A request that got no usable answer: cancelled, too big, timed out, unreachable.
    func error(forTransportFailure error: any Error, timeoutMessage: String) -> LLMError {
        let host = URL(string: endpointURL)?.host ?? endpointURL
        if error is CancellationError {
            return LLMError(.cancelled, message: "The \(service) request was cancelled.")
        }
        if error is NIOTooManyBytesError {
            return LLMError(.invalidResponse, message: "The \(service) service sent a response larger than \(maxResponseBytes) bytes.")
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .cancelled:
                return LLMError(.cancelled, message: "The \(service) request was cancelled.")
            case .alreadyShutdown:
                return LLMError(.cancelled, message: "The HTTP client was shut down before the \(service) request could be sent.")
            case .deadlineExceeded:
                return LLMError(.timeout, message: timeoutMessage)
            case .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout:
                return LLMError(.timeout, message: "The \(service) service at \(host) timed out (\(error)).")
            case .invalidURL, .emptyHost, .emptyScheme:
                return LLMError(.rejected, message: redacted("The \(service) base URL “\(baseURL)” is not a valid http(s) URL."))
            default:
                break
            }
        }
        return LLMError(.unavailable, message: redacted("Could not reach the \(service) service at \(host): \(String(describing: error).truncated(to: 200))."))
    }

    /// Runs one attempt, racing it against `timeout`; the loser is cancelled.
    /// A timeout is an ``LLMError/Kind/timeout`` with `timeoutMessage`.
    static func racing<Value: Sendable>(
        _ timeout: Duration,
        timeoutMessage: String,
        service: String,
        _ attempt: @escaping @Sendable () async -> Result<Value, LLMError>
    ) async -> Result<Value, LLMError> {
        await withTaskGroup(of: Result<Value, LLMError>?.self) { group in
            group.addTask { await attempt() }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return .failure(LLMError(.timeout, message: timeoutMessage))
                } catch {
                    return nil
                }
            }
            var outcome: Result<Value, LLMError>?
            for await result in group {
                if let result, outcome == nil {
                    outcome = result
                    group.cancelAll()
                }
            }
            return outcome ?? .failure(LLMError(.cancelled, message: "The \(service) request was cancelled."))
        }
    }

    /// `text` with the API key blanked out, in case a server echoed it back.
    func redacted(_ text: String) -> String {
        guard let token = bearerToken, token.count >= 4 else { return text }
        return text.replacingOccurrences(of: token, with: "[redacted]")
    }
}

extension HTTPClient {
    /// A client for a provider's API (the caller shuts it down): up to
    /// `maxConnections` to it at once, and a refused connection fails the
    /// attempt at once (the caller's backoff retries it, within its deadline)
    /// instead of spinning inside the pool.
    package static func forProvider(maxConnections: Int) -> HTTPClient {
        var http = HTTPClient.Configuration()
        http.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, maxConnections)
        http.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }
}
