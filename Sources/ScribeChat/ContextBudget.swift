import ScribeLLM

/// How much conversation the LLM gets to see: at most `maxMessages` earlier
/// messages, and an estimated `maxTokens` for the whole prompt.
public struct ContextBudget: Sendable, Hashable {
    /// The most earlier messages (not counting the system prompt and the question).
    public var maxMessages: Int
    /// The estimated token budget of the whole prompt.
    public var maxTokens: Int
    /// The share of ``maxTokens`` the conversation's documents may fill
    /// (whole, or their passages the question needs); recent history keeps the rest.
    public var documentShare: Double

    public init(maxMessages: Int, maxTokens: Int, documentShare: Double = 0.6) {
        precondition((0...1).contains(documentShare), "a share is between 0 and 1")
        self.maxMessages = maxMessages
        self.maxTokens = maxTokens
        self.documentShare = documentShare
    }

    /// The tokens the documents' text may take.
    public var documentTokens: Int { Int(Double(maxTokens) * documentShare) }

    /// The prompt: the system prompt, then the newest earlier messages that fit,
    /// then the question (the last element of `conversation`).
    ///
    /// The question is always sent; if it alone is over budget its text is cut
    /// (keeping its beginning) so the request stays within the model's context.
    public func prompt(system: String, conversation: [ChatMessage]) -> [ChatMessage] {
        guard let question = conversation.last else { return [ChatMessage(role: .system, content: system)] }
        var remaining = maxTokens - TokenEstimate.tokens(in: system)
        var last = question
        let questionTokens = TokenEstimate.tokens(in: question.content)
        if questionTokens > remaining {
            last.content = Self.truncate(question.content, toTokens: max(remaining, 64))
            remaining = 0
        } else {
            remaining -= questionTokens
        }
        var earlier: [ChatMessage] = []
        for message in conversation.dropLast().reversed() {
            guard earlier.count < maxMessages else { break }
            let cost = TokenEstimate.tokens(in: message.content)
            guard cost <= remaining else { break }
            remaining -= cost
            earlier.append(message)
        }
        return [ChatMessage(role: .system, content: system)] + earlier.reversed() + [last]
    }

    static func truncate(_ text: String, toTokens tokens: Int) -> String {
        // TokenEstimate counts about four UTF-8 bytes a token; cut on a character boundary.
        var budget = tokens * 4
        var result = ""
        for character in text {
            budget -= character.utf8.count
            guard budget >= 0 else { break }
            result.append(character)
        }
        return result + "\n[… truncated to fit the context window]"
    }
}
