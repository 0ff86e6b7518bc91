/// Why a provider could not answer, in a form a job runner can act on and a person can read.
///
/// ``kind`` says what went wrong and ``isRetryable`` whether trying again later may help.
/// ``message`` is a readable sentence for logs and for the user's failed message; it never
/// contains the API key or the `Authorization` header.
public struct LLMError: Error, Sendable, CustomStringConvertible {
    /// The category of failure. A struct rather than an enum so new kinds do not break callers.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private let rawValue: String

        private init(_ rawValue: String) {
            self.rawValue = rawValue
        }

        /// The provider is throttling us (429 or 408/409-style "try later"). Retryable.
        public static let rateLimited = Kind("rateLimited")
        /// An attempt or the whole call ran out of time. Retryable.
        public static let timeout = Kind("timeout")
        /// The provider is down or unreachable: 5xx, connection refused or reset. Retryable.
        public static let unavailable = Kind("unavailable")
        /// The provider answered with something we cannot use: malformed JSON, no choices,
        /// an oversized body. Not retryable.
        public static let invalidResponse = Kind("invalidResponse")
        /// The provider refused the request for good: 400/401/403/404/422, any other
        /// non-retryable 4xx, or `insufficient_quota`. Not retryable.
        public static let rejected = Kind("rejected")
        /// The calling task was cancelled (e.g. a graceful shutdown) before an answer arrived.
        /// Retryable: nothing is wrong with the request, it just did not finish.
        public static let cancelled = Kind("cancelled")

        /// The kind's name, e.g. `rateLimited`.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public var kind: Kind
    /// A readable sentence saying what went wrong; never contains secrets.
    public var message: String
    /// The HTTP status of the last response, when there was one.
    public var statusCode: Int?
    /// How long the provider asked us to wait before trying again (`Retry-After`), if it said.
    public var retryAfter: Duration?

    /// Creates an error.
    /// - Parameters:
    ///   - kind: What went wrong.
    ///   - message: A readable sentence; must not contain secrets.
    ///   - statusCode: The HTTP status, when there was a response.
    ///   - retryAfter: The provider's requested wait, if any.
    public init(_ kind: Kind, message: String, statusCode: Int? = nil, retryAfter: Duration? = nil) {
        self.kind = kind
        self.message = message
        self.statusCode = statusCode
        self.retryAfter = retryAfter
    }

    /// Whether trying again later may succeed: true for rate limits, timeouts, unavailability
    /// and cancellation; false for rejected requests and unusable responses.
    public var isRetryable: Bool {
        switch kind {
        case .rateLimited, .timeout, .unavailable, .cancelled: true
        default: false
        }
    }

    /// A sentence for the person waiting on the answer. Unlike ``message`` it
    /// never quotes the provider, whose words can echo request details.
    public var userMessage: String {
        switch kind {
        case .timeout: "The language model did not answer in time."
        case .rateLimited: "The language model is busy right now."
        case .rejected: "The language model refused the request."
        case .invalidResponse: "The language model sent an answer that could not be read."
        case .cancelled: "The request to the language model was cancelled."
        default: statusCode == nil ? "The language model cannot be reached." : "The language model failed to answer."
        }
    }

    /// `LLM error (kind, HTTP status): message`.
    public var description: String {
        if let statusCode {
            return "LLM error (\(kind), HTTP \(statusCode)): \(message)"
        }
        return "LLM error (\(kind)): \(message)"
    }
}
