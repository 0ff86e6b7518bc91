/// One turn of a conversation sent to a language model.
///
/// Encodes to the OpenAI-compatible wire shape `{"role": "...", "content": "..."}`.
public struct ChatMessage: Sendable, Codable, Hashable {
    /// Who wrote a message.
    public enum Role: String, Sendable, Codable {
        /// Instructions that frame the whole conversation.
        case system
        /// A person using Scribe.
        case user
        /// The model (or the offline summariser) answering.
        case assistant
    }

    /// Who wrote the message.
    public var role: Role
    /// The message text.
    public var content: String

    /// Creates a message.
    /// - Parameters:
    ///   - role: Who wrote the message.
    ///   - content: The message text.
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    /// A system message: instructions that frame the conversation.
    public static func system(_ content: String) -> ChatMessage {
        ChatMessage(role: .system, content: content)
    }

    /// A message written by the user.
    public static func user(_ content: String) -> ChatMessage {
        ChatMessage(role: .user, content: content)
    }

    /// A message written by the assistant.
    public static func assistant(_ content: String) -> ChatMessage {
        ChatMessage(role: .assistant, content: content)
    }
}
