import Foundation

extension FakeChatCompletionsServer {
    /// How the fake answers one request to `/chat/completions`.
    public indirect enum Behaviour: Sendable {
        /// Answer `"echo: <last user message>"` (the default); streamed word by word
        /// when the request asks for a stream.
        case echo
        /// Answer with this assistant text.
        case reply(String)
        /// Wait this long (or until the client goes away / the server stops), then behave as `then`.
        case delay(Duration, then: Behaviour)
        /// Take this long in all, as a model writing word by word does: a streamed answer
        /// (``echo`` asked for a stream, or ``stream(chunks:interval:)``) sends each chunk after
        /// its share of the time, the last at the end; any other answer waits it all first, as ``delay(_:then:)``.
        case pace(Duration, then: Behaviour)
        /// Answer with this status and raw body (JSON content type), and a `Retry-After` header if given.
        case status(Int, body: String, retryAfter: String? = nil)
        /// Answer 200 with a body that is not JSON.
        case malformedJSON
        /// Answer 200 as a server-sent-event stream: one `chat.completion.chunk` per string,
        /// `interval` apart, then `data: [DONE]`.
        case stream(chunks: [String], interval: Duration = .zero)
        /// Send a response head promising a body, then drop the connection.
        case disconnect

        /// An OpenAI-style error: `{"error": {"message", "type", "code"}}` with this status.
        public static func error(
            _ status: Int,
            message: String,
            type: String = "invalid_request_error",
            code: String? = nil,
            retryAfter: String? = nil
        ) -> Behaviour {
            var error: [String: Any] = ["message": message, "type": type]
            error["code"] = code ?? NSNull()
            return .status(status, body: JSON.string(["error": error]), retryAfter: retryAfter)
        }
    }
}
