/// The JSON sent to `/chat/completions`: only fields Mistral also accepts.
///
/// `max_tokens` (never `max_completion_tokens`), `temperature` only when set, `stream`
/// (with `stream_options.include_usage` when true).
struct ChatCompletionsRequestBody: Encodable {
    var model: String
    var messages: [ChatMessage]
    var maxTokens: Int?
    var temperature: Double?
    var stream: Bool = false

    /// Asks a streaming server to add the usage to its last chunk.
    struct StreamOptions: Encodable {
        var includeUsage = true

        private enum CodingKeys: String, CodingKey {
            case includeUsage = "include_usage"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case model
        case messages
        case maxTokens = "max_tokens"
        case temperature
        case stream
        case streamOptions = "stream_options"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(messages, forKey: .messages)
        try container.encodeIfPresent(maxTokens, forKey: .maxTokens)
        try container.encodeIfPresent(temperature, forKey: .temperature)
        try container.encode(stream, forKey: .stream)
        if stream { try container.encode(StreamOptions(), forKey: .streamOptions) }
    }
}
