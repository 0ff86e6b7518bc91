/// Something that answers a conversation: a remote language model or the offline summariser.
///
/// Implementations must be safe to call concurrently from many tasks.
public protocol LLMProvider: Sendable {
    /// Answers the conversation.
    ///
    /// - Parameter messages: The conversation so far, oldest first; the last user message is
    ///   the one to answer.
    /// - Returns: The answer, with the model name and token usage when known.
    /// - Throws: ``LLMError``; check ``LLMError/isRetryable`` to decide whether to try again later.
    func complete(_ messages: [ChatMessage]) async throws(LLMError) -> ChatCompletion

    /// A short name for logs and metadata, e.g. `"chat-completions"` or `"extractive"`.
    var name: String { get }
}
