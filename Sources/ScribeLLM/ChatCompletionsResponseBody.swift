/// The parts of a `/chat/completions` answer that Scribe uses: the first choice's text,
/// the model name and the usage. Everything else is ignored.
struct ChatCompletionsResponseBody: Decodable {
    struct Choice: Decodable {
        var message: Message?
    }

    struct Message: Decodable {
        var content: Content?
    }

    /// `content` is usually a string; some servers send an array of typed parts.
    enum Content: Decodable {
        case text(String)
        case parts([Part])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .text(text)
            } else {
                self = .parts(try container.decode([Part].self))
            }
        }

        /// The text: the string itself, or the `text` parts joined in order.
        var text: String {
            switch self {
            case .text(let text):
                return text
            case .parts(let parts):
                return parts
                    .filter { $0.type == nil || $0.type == "text" }
                    .compactMap(\.text)
                    .joined()
            }
        }
    }

    struct Part: Decodable {
        var type: String?
        var text: String?
    }

    struct Usage: Decodable {
        var promptTokens: Int?
        var completionTokens: Int?
        var totalTokens: Int?

        private enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }

        var tokenUsage: TokenUsage {
            let prompt = promptTokens ?? 0
            let completion = completionTokens ?? 0
            return TokenUsage(promptTokens: prompt, completionTokens: completion, totalTokens: totalTokens ?? prompt + completion)
        }
    }

    var model: String?
    var choices: [Choice]?
    var usage: Usage?
}

/// One `chat.completion.chunk` of a streamed answer: the first choice's new
/// text, and (in the last chunk, when asked for) the usage.
struct ChatCompletionsChunk: Decodable {
    struct Choice: Decodable {
        var delta: Delta?
    }

    struct Delta: Decodable {
        var content: String?
    }

    var model: String?
    var choices: [Choice]?
    var usage: ChatCompletionsResponseBody.Usage?
}
