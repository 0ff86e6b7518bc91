import Foundation
import Hummingbird
import ScribePostgres
import ScribeFlows
import ScribeStore

/// `POST /v1/chat/send`: a service (a bot, with its `X-API-KEY`) sends one
/// of its people's messages and gets the answer back in the same response.
///
/// Each person is a user of their own, named by the key's name and the id
/// the service knows them by (`telegram_id`, or `external_id`), created on
/// their first message, with one conversation. The LLM sees the last
/// `BOT_HISTORY_MESSAGES` messages before this one, through the same client
/// and retries as every other answer. Each message counts against the
/// person's daily limit; one that could not be answered is given back.
struct ServiceChatController {
    let serviceChats: ServiceChatStore
    /// Answers with the bots' shorter history and their daily limit.
    let chat: ChatController
    var dailyLimit: Int? { chat.flow.dailyLimit }

    struct SendRequest: Decodable {
        var telegramId: TelegramID?
        var externalId: String?
        var message: String
    }

    /// A Telegram user id: a JSON number, or a string of digits.
    struct TelegramID: Decodable {
        var value: Int64

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int64.self) {
                value = number
            } else if let text = try? container.decode(String.self), let number = Int64(text) {
                value = number
            } else {
                throw DecodingError.typeMismatch(Int64.self, .init(codingPath: decoder.codingPath, debugDescription: "not an integer"))
            }
        }
    }

    struct SendResponse: ResponseEncodable {
        /// The assistant's answer.
        var response: String
        /// Requests the person has left today; null when there is no limit.
        var remainingRequests: Int?
        var conversationId: String
        /// The assistant message's id.
        var messageId: String
        /// The person's message's id.
        var userMessageId: String
        /// The passages of the person's documents the answer was given.
        var sources: [MessageSource]

        enum CodingKeys: String, CodingKey {
            case response, remainingRequests, conversationId, messageId, userMessageId, sources
        }

        /// `remaining_requests` is always present: null when there is no limit.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(response, forKey: .response)
            try container.encode(remainingRequests, forKey: .remainingRequests)
            try container.encode(conversationId, forKey: .conversationId)
            try container.encode(messageId, forKey: .messageId)
            try container.encode(userMessageId, forKey: .userMessageId)
            try container.encode(sources, forKey: .sources)
        }
    }

    func addRoutes(to group: RouterGroup<ScribeRequestContext>) {
        group.post("chat/send", use: send)
    }

    @Sendable func send(_ request: Request, context: ScribeRequestContext) async throws -> SendResponse {
        guard let key = context.serviceKey else { throw ServiceKeyAuthenticator.missingKey }
        let input = try await request.decodeJSON(as: SendRequest.self, context: context)
        let externalID = try Self.externalID(of: input)
        let text = input.message.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw APIError.invalid("message", code: "empty_text", "'message' must not be empty.") }
        guard text.count <= ChatController.maxTextLength else {
            throw APIError.invalid("message", code: "text_too_long", "'message' must be at most \(ChatController.maxTextLength) characters.")
        }

        let started = try await serviceChats.startServiceChat(
            service: key.name,
            externalID: externalID,
            text: text,
            title: "\(key.name) chat",
            limit: dailyLimit
        )
        // Not answered: the chat gives it back to the day's count.
        let answered = try await chat.answer(ChatFlow.Started(conversation: started.conversation, message: started.message), logger: context.logger)
        return SendResponse(
            response: answered.assistantMessage.content,
            remainingRequests: started.allowance?.remaining,
            conversationId: started.conversation.id.lowercasedString,
            messageId: answered.assistantMessage.id,
            userMessageId: answered.userMessage.id,
            sources: answered.assistantMessage.sources
        )
    }

    /// The person's id as stored: `telegram:<id>` for `telegram_id`, else
    /// `external_id` as sent. Exactly one of them must be sent.
    static func externalID(of input: SendRequest) throws(APIError) -> String {
        switch (input.telegramId, input.externalId) {
        case (let telegram?, nil):
            guard telegram.value > 0 else {
                throw .invalid("telegram_id", code: "invalid_external_id", "'telegram_id' must be a positive integer.")
            }
            return "telegram:\(telegram.value)"
        case (nil, let external?):
            let trimmed = external.trimmingCharacters(in: .whitespaces)
            guard (1...200).contains(trimmed.count), !trimmed.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
                throw .invalid("external_id", code: "invalid_external_id", "'external_id' must be 1 to 200 printable characters.")
            }
            return trimmed
        case (nil, nil):
            throw .badRequest("Send 'telegram_id' (or 'external_id') naming the person.", field: "telegram_id")
        case (_?, _?):
            throw .badRequest("Send either 'telegram_id' or 'external_id', not both.", field: "external_id")
        }
    }
}
