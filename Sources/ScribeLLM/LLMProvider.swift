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

    /// Answers the conversation, telling `onDelta` each piece of the answer as
    /// it is generated; the returned completion holds the whole answer (the
    /// pieces joined). A failure after the first piece is not retried.
    func stream(_ messages: [ChatMessage], onDelta: @escaping AnswerDeltas) async throws(LLMError) -> ChatCompletion

    /// A short name for logs and metadata, e.g. `"chat-completions"` or `"extractive"`.
    var name: String { get }
}

/// Told each piece of an answer, in order, as the provider generates it.
public typealias AnswerDeltas = @Sendable (_ text: String) async -> Void

extension LLMProvider {
    /// A provider that cannot stream gives its whole answer as one piece.
    public func stream(_ messages: [ChatMessage], onDelta: @escaping AnswerDeltas) async throws(LLMError) -> ChatCompletion {
        let completion = try await complete(messages)
        await onDelta(completion.content)
        return completion
    }
}
