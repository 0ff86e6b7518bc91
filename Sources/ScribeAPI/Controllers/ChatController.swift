import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Logging
import ScribeChat
import ScribeFlows
import ScribeLLM
import ScribePostgres
import ScribeStore

/// `POST /v1/chat`: stores the user's message, asks the LLM synchronously, stores the answer.
///
/// The LLM call is bounded by the client's total timeout. When it fails, the
/// user message is kept as `failed` with a readable error and the response is
/// a 502, 503 or 504 JSON error: never a hang, never a half-written answer.
struct ChatController {
    /// Stores the message, asks the LLM, stores the answer or the failure.
    let flow: ChatFlow

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

        let started: ChatFlow.Started
        do {
            started = try await flow.start(userID: user.id, conversationID: input.conversationId, text: text)
        } catch let error as StoreError where error.code == .notFound {
            throw APIError.notFound("Conversation")
        }
        if request.headers[.accept]?.contains("text/event-stream") == true {
            return streamAnswer(to: started, logger: context.logger)
        }
        return try await answer(started, logger: context.logger).response(from: request, context: context)
    }

    /// Answers through the flow (telling `onDelta` each piece when
    /// streaming); an LLM failure is thrown as the API's error, whose
    /// message is the one the failed user message shows.
    func answer(_ started: ChatFlow.Started, logger: Logger, onDelta: AnswerDeltas? = nil) async throws -> ChatResponse {
        let answered: ChatFlow.Answered
        do {
            answered = try await flow.answer(started, logger: logger, onDelta: onDelta)
        } catch let error as DatabaseError {
            throw error
        } catch let error as StoreError {
            throw error
        } catch {
            throw Self.failure(for: error)
        }
        return ChatResponse(
            conversationId: started.conversation.id.lowercasedString,
            userMessage: MessageResponse(answered.userMessage),
            assistantMessage: MessageResponse(answered.assistantMessage)
        )
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
    func streamAnswer(to started: ChatFlow.Started, logger: Logger) -> Response {
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

    /// The HTTP error for an LLM failure; its message is what the user message shows.
    static func failure(for error: any Error) -> APIError {
        guard let error = error as? LLMError else {
            return APIError(.serviceUnavailable, code: "llm_unavailable", message: ChatFlow.failureSentence(for: error))
        }
        // The message is what the failed user message shows (the flow's
        // sentence); only the status and code are the API's.
        let message = ChatFlow.failureSentence(for: error)
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
            return APIError(.badGateway, code: "llm_bad_response", message: message)
        case .rejected:
            // The provider's own words stay in the log: they can echo request details.
            return APIError(.badGateway, code: "llm_rejected", message: message)
        default:
            if error.statusCode != nil {
                return APIError(.badGateway, code: "llm_error", message: message)
            }
            return APIError(.serviceUnavailable, code: "llm_unavailable", message: message)
        }
    }
}
