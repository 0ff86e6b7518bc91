import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Logging
import ScribeChat
import ScribeLLM
import ScribePostgres
import ScribeStore

/// `POST /v1/chat`: stores the user's message, asks the LLM synchronously, stores the answer.
///
/// The LLM call is bounded by the client's total timeout. When it fails, the
/// user message is kept as `failed` with a readable error and the response is
/// a 502, 503 or 504 JSON error: never a hang, never a half-written answer.
struct ChatController {
    let store: Store
    let responder: ChatResponder
    /// Requests per UTC day each person may make (counted when a chat
    /// starts, given back when it cannot be answered); nil: no limit.
    let dailyLimit: Int?

    /// The longest text accepted in one message, in characters.
    static let maxTextLength = 100_000

    struct ChatRequest: Decodable {
        var conversationId: UUID?
        var text: String
    }

    func addRoutes(to group: RouterGroup<ScribeRequestContext>) {
        group.post("chat", use: chat)
    }

    @Sendable func chat(_ request: Request, context: ScribeRequestContext) async throws -> Response {
        let user = try context.requireIdentity()
        let input = try await request.decodeJSON(as: ChatRequest.self, context: context)
        let text = input.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw APIError.invalid("text", code: "empty_text", "'text' must not be empty.") }
        guard text.count <= Self.maxTextLength else {
            throw APIError.invalid("text", code: "text_too_long", "'text' must be at most \(Self.maxTextLength) characters.")
        }

        let started: StartedChat
        do {
            started = try await store.startChat(
                userID: user.id,
                conversationID: input.conversationId,
                text: text,
                newTitle: Self.title(from: text),
                dailyLimit: dailyLimit
            )
        } catch let error as StoreError where error.code == .notFound {
            throw APIError.notFound("Conversation")
        }
        if request.headers[.accept]?.contains("text/event-stream") == true {
            return streamAnswer(to: started, logger: context.logger)
        }
        return try await answer(started, logger: context.logger).response(from: request, context: context)
    }

    typealias StartedChat = (conversation: Conversation, message: Message)

    /// Asks the LLM (telling `onDelta` each piece when streaming) and stores
    /// the answer; on failure the user message is kept `failed` with a
    /// readable error, it is given back to the day's count (when counted),
    /// and the error thrown is the API's.
    func answer(_ started: StartedChat, logger: Logger, onDelta: AnswerDeltas? = nil) async throws -> ChatResponse {
        let completion: ChatCompletion
        do {
            if let onDelta {
                completion = try await responder.answer(started.message, onDelta: onDelta)
            } else {
                completion = try await responder.answer(started.message)
            }
        } catch let error as DatabaseError {
            // The database went away while the prompt was gathered: say so, and mark
            // the message failed if it can still be written.
            _ = try? await store.failMessage(id: started.message.id, error: "The answer could not be prepared; please try again.")
            await giveBack(started, logger: logger)
            throw error
        } catch {
            let failure = Self.failure(for: error)
            logger.warning(
                "chat answer failed",
                metadata: ["message_id": "\(started.message.id)", "reason": "\(failure.code)", "error": "\(error)"]
            )
            try await store.failMessage(id: started.message.id, error: failure.message)
            await giveBack(started, logger: logger)
            throw failure
        }

        let stored = try await store.finishChat(
            userMessageID: started.message.id,
            conversationID: started.conversation.id,
            answer: completion.content,
            metadata: responder.metadata(for: completion)
        )
        return ChatResponse(
            conversationId: started.conversation.id.lowercasedString,
            userMessage: MessageResponse(stored.userMessage),
            assistantMessage: MessageResponse(stored.assistantMessage)
        )
    }

    /// A message that was not answered does not count against the day.
    private func giveBack(_ started: StartedChat, logger: Logger) async {
        guard dailyLimit != nil else { return }
        do {
            try await store.refundDailyRequests(1, userID: started.conversation.userID)
        } catch {
            logger.warning("could not give back a request that was not answered", metadata: ["error": "\(error)"])
        }
    }

    /// What a streamed answer sends, in order.
    enum StreamItem: Sendable {
        case delta(String)
        case finished(Result<ChatResponse, any Error>)
    }

    /// The answer as Server-Sent Events: `delta` events (`{"text": …}`) as
    /// the LLM generates it, then one `done` event with the messages as
    /// stored, or one `error` event. The answer is finished and stored even
    /// when the client goes away mid-way: the request's task waits for it and
    /// only stops writing.
    func streamAnswer(to started: StartedChat, logger: Logger) -> Response {
        let body = ResponseBody { writer in
            let (items, sink) = AsyncStream.makeStream(of: StreamItem.self)
            var connected = true
            await withDiscardingTaskGroup { group in
                group.addTask {
                    let outcome: Result<ChatResponse, any Error>
                    do {
                        outcome = .success(try await answer(started, logger: logger) { text in sink.yield(.delta(text)) })
                    } catch {
                        outcome = .failure(error)
                    }
                    sink.yield(.finished(outcome))
                    sink.finish()
                }
                for await item in items where connected {
                    do {
                        try await writer.write(ByteBuffer(string: Self.event(item)))
                    } catch {
                        connected = false
                        logger.info("chat stream client went away; the answer is still finished and stored", metadata: ["message_id": "\(started.message.id)"])
                    }
                }
            }
            if connected { try? await writer.finish(nil) }
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store", EventController.noBuffering: "no"],
            body: body
        )
    }

    /// One item as an SSE event.
    static func event(_ item: StreamItem) -> String {
        switch item {
        case .delta(let text):
            return "event: delta\ndata: \(json(["text": text]))\n\n"
        case .finished(.success(let response)):
            let data = (try? JSONCoding.encoder.encode(response)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return "event: done\ndata: \(data)\n\n"
        case .finished(.failure(let error)):
            let apiError: APIError =
                switch error {
                case let error as APIError: error
                case let error as DatabaseError where error.code == .unavailable: .databaseUnavailable
                default: APIError(.internalServerError, code: "internal", message: "Something went wrong on our side.")
                }
            let body = apiError.body
            let data = (try? JSONCoding.encoder.encode(body)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return "event: error\ndata: \(data)\n\n"
        }
    }

    private static func json(_ object: [String: String]) -> String {
        (try? JSONSerialization.data(withJSONObject: object)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// A conversation title from the first words of its first message.
    static func title(from text: String) -> String {
        let firstLine = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
        let words = firstLine.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard words.count > 60 else { return words }
        let cut = words.prefix(60)
        let atWord = cut.lastIndex(of: " ").map { cut[..<$0] } ?? cut
        return atWord + "…"
    }

    /// The HTTP error for an LLM failure; its message is what the user message shows.
    static func failure(for error: any Error) -> APIError {
        guard let error = error as? LLMError else {
            return APIError(.serviceUnavailable, code: "llm_unavailable", message: "The assistant could not answer; please try again.")
        }
        // The message is what the failed user message shows, so it is the LLM
        // error's own sentence for people; only the status and code are the API's.
        let message = error.userMessage + " Please try again."
        switch error.kind {
        case .timeout:
            return APIError(.gatewayTimeout, code: "llm_timeout", message: message)
        case .rateLimited:
            var headers = HTTPFields()
            if let retryAfter = error.retryAfter {
                headers[.retryAfter] = String(max(1, retryAfter.components.seconds))
            }
            return APIError(.serviceUnavailable, code: "llm_rate_limited", message: message, headers: headers)
        case .invalidResponse:
            return APIError(.badGateway, code: "llm_bad_response", message: error.userMessage)
        case .rejected:
            // The provider's own words stay in the log: they can echo request details.
            return APIError(.badGateway, code: "llm_rejected", message: error.userMessage)
        default:
            if error.statusCode != nil {
                return APIError(.badGateway, code: "llm_error", message: message)
            }
            return APIError(.serviceUnavailable, code: "llm_unavailable", message: message)
        }
    }
}
