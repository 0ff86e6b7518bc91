/// The answer a provider gave to a conversation.
public struct ChatCompletion: Sendable, Hashable {
    /// The assistant's answer text.
    public var content: String
    /// The model that produced the answer (as the provider names it; `"extractive"` offline).
    public var model: String
    /// Token usage, when the provider reported it (estimated for the offline provider).
    public var usage: TokenUsage?
    /// `true` when no language model was involved (the offline extractive summariser).
    public var isOffline: Bool

    /// Creates a completion.
    /// - Parameters:
    ///   - content: The assistant's answer text.
    ///   - model: The model that produced it.
    ///   - usage: Token usage, if known.
    ///   - isOffline: Whether the answer was computed without a language model.
    public init(content: String, model: String, usage: TokenUsage? = nil, isOffline: Bool = false) {
        self.content = content
        self.model = model
        self.usage = usage
        self.isOffline = isOffline
    }
}
