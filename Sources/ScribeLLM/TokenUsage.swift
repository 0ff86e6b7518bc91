/// How many tokens a completion used, as reported by the provider (or estimated offline).
public struct TokenUsage: Sendable, Codable, Hashable {
    /// Tokens in the messages sent to the model.
    public var promptTokens: Int
    /// Tokens in the generated answer.
    public var completionTokens: Int
    /// Prompt plus completion tokens, as the provider counts them.
    public var totalTokens: Int

    /// Creates a usage record.
    /// - Parameters:
    ///   - promptTokens: Tokens in the messages sent to the model.
    ///   - completionTokens: Tokens in the generated answer.
    ///   - totalTokens: The total; defaults to the sum of the other two.
    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens ?? (promptTokens + completionTokens)
    }

    private enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }
}
