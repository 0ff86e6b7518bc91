import Logging
import ScribeLLM
import ScribePostgres
import ScribeStore

/// Answers a user message: gathers the conversation's recent history, fits it
/// to the context budget behind the system prompt, and asks the LLM.
///
/// Used by the synchronous `POST /v1/chat` and by the worker's LLM step, so both
/// see the same prompt for the same history.
public struct ChatResponder: Sendable {
    let messages: MessageStore
    let provider: any LLMProvider
    let systemPrompt: String
    let budget: ContextBudget

    /// Creates a responder.
    public init(messages: MessageStore, provider: any LLMProvider, systemPrompt: String, budget: ContextBudget) {
        self.messages = messages
        self.provider = provider
        self.systemPrompt = systemPrompt
        self.budget = budget
    }

    /// The provider's name, for logs and message metadata.
    public var providerName: String { provider.name }

    /// Asks the LLM to answer `message`, with the conversation so far as context.
    public func answer(_ message: Message) async throws -> ChatCompletion {
        try await provider.complete(prompt(for: message))
    }

    /// Asks the LLM to answer `message` as a stream: `onDelta` is told each
    /// piece as it is generated; the completion is the whole answer.
    public func answer(_ message: Message, onDelta: @escaping AnswerDeltas) async throws -> ChatCompletion {
        try await provider.stream(prompt(for: message), onDelta: onDelta)
    }

    /// The prompt for `message`: the system prompt and the history that fits the budget.
    func prompt(for message: Message) async throws -> [ChatMessage] {
        let history = try await messages.history(
            conversationID: message.conversationID,
            through: message.id,
            limit: budget.maxMessages + 1
        )
        // The message being answered may carry text newer than the stored row.
        let conversation = history.map { $0.id == message.id ? message : $0 }.map {
            ChatMessage(role: ChatMessage.Role($0.role), content: Self.promptText(of: $0))
        }
        return budget.prompt(system: systemPrompt, conversation: conversation)
    }

    /// A message as the LLM reads it: a file's recognised text follows the
    /// caption under a `[Document: name]` line.
    static func promptText(of message: Message) -> String {
        guard let document = message.documentText else { return message.content }
        let name = message.attachments.first?.filename ?? "upload"
        let caption = message.content.isEmpty ? "" : message.content + "\n\n"
        return "\(caption)[Document: \(name)]\n\(document)"
    }

    /// The metadata recorded on the assistant message for `completion`.
    public func metadata(for completion: ChatCompletion) -> MessageMetadata {
        MessageMetadata(
            provider: provider.name,
            model: completion.model,
            offline: completion.isOffline,
            usage: completion.usage.map {
                MessageMetadata.Usage(
                    promptTokens: $0.promptTokens,
                    completionTokens: $0.completionTokens,
                    totalTokens: $0.totalTokens
                )
            }
        )
    }
}

extension ChatMessage.Role {
    init(_ role: MessageRole) {
        switch role {
        case .user: self = .user
        case .assistant: self = .assistant
        case .system: self = .system
        }
    }
}

extension ChatResponder {
    /// The same responder, showing the LLM at most `maxMessages` earlier messages.
    public func withHistory(maxMessages: Int) -> ChatResponder {
        var budget = self.budget
        budget.maxMessages = maxMessages
        return ChatResponder(messages: messages, provider: provider, systemPrompt: systemPrompt, budget: budget)
    }
}
