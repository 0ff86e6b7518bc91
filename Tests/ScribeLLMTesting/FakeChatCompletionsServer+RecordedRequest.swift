import Foundation

extension FakeChatCompletionsServer {
    /// A request the fake received, with its JSON body taken apart for assertions.
    public struct RecordedRequest: Sendable {
        /// One entry of the request's `messages`.
        public struct Message: Sendable, Hashable {
            /// `system`, `user` or `assistant`.
            public var role: String
            /// The text (array-of-parts content is joined).
            public var content: String

            /// Creates a message (for comparisons in tests).
            public init(role: String, content: String) {
                self.role = role
                self.content = content
            }
        }

        /// The HTTP method, e.g. `POST`.
        public var method: String
        /// The request path, e.g. `/v1/chat/completions`.
        public var path: String
        /// The `Authorization` header, if one was sent.
        public var authorization: String?
        /// The `Content-Type` header, if one was sent.
        public var contentType: String?
        /// The raw body as text.
        public var rawBody: String
        /// The body's top-level JSON keys (empty if it was not a JSON object).
        public var fieldNames: Set<String>
        /// `model`, if present.
        public var model: String?
        /// `messages`, if present.
        public var messages: [Message]
        /// `max_tokens`, if present.
        public var maxTokens: Int?
        /// `temperature`, if present.
        public var temperature: Double?
        /// `stream`, if present.
        public var stream: Bool?

        /// Whether an `Authorization` header was sent.
        public var hasAuthorization: Bool { authorization != nil }

        /// The last `user` message's content, if any.
        public var lastUserMessage: String? {
            messages.last(where: { $0.role == "user" })?.content
        }

        init(method: String, path: String, authorization: String?, contentType: String?, body: [UInt8]) {
            self.method = method
            self.path = path
            self.authorization = authorization
            self.contentType = contentType
            self.rawBody = String(decoding: body, as: UTF8.self)
            let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
            self.fieldNames = Set(object.keys)
            self.model = object["model"] as? String
            self.maxTokens = (object["max_tokens"] as? NSNumber)?.intValue
            self.temperature = (object["temperature"] as? NSNumber)?.doubleValue
            self.stream = (object["stream"] as? NSNumber)?.boolValue
            self.messages = (object["messages"] as? [[String: Any]] ?? []).map { entry in
                let content: String
                if let text = entry["content"] as? String {
                    content = text
                } else if let parts = entry["content"] as? [[String: Any]] {
                    content = parts.compactMap { $0["text"] as? String }.joined()
                } else {
                    content = ""
                }
                return Message(role: entry["role"] as? String ?? "", content: content)
            }
        }
    }
}
