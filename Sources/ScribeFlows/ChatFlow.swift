import Foundation
import Logging
import ScribeChat
import ScribeLLM
import ScribePostgres
import ScribeStore

/// The chat flow: a person's message is stored (counted against the day),
/// the LLM answers it, and the answer is stored; or, when it cannot be
/// answered, the message is kept `failed` with a sentence for the person and
/// given back to the day's count. Used by the web chat (`POST /v1/chat`, plain
/// and streamed) and the bots' `POST /v1/chat/send`; HTTP lives in the API.
public struct ChatFlow: Sendable {
    let messages: MessageStore
    let usage: UsageStore
    let responder: ChatResponder
    /// Requests per UTC day each person may make (counted when a chat
    /// starts, given back when it cannot be answered); nil: no limit.
    public let dailyLimit: Int?

    /// A flow answering with `responder`, counting against `dailyLimit`.
    public init(messages: MessageStore, usage: UsageStore, responder: ChatResponder, dailyLimit: Int?) {
        self.messages = messages
        self.usage = usage
        self.responder = responder
        self.dailyLimit = dailyLimit
    }

    /// A message that was stored and waits for its answer.
    public struct Started: Sendable {
        public var conversation: Conversation
        public var message: Message

        public init(conversation: Conversation, message: Message) {
            self.conversation = conversation
            self.message = message
        }
    }

    /// A message and its stored answer.
    public struct Answered: Sendable {
        public var userMessage: Message
        public var assistantMessage: Message
    }

    /// Stores `text` as the user's message in `conversationID` (a new
    /// conversation titled from the text when nil), counted against the day.
    ///
    /// - Throws: ``StoreError`` `.notFound` when the conversation is not the
    ///   user's; ``DailyLimitReached`` when the day's requests are spent.
    public func start(userID: UUID, conversationID: UUID?, text: String) async throws -> Started {
        let started = try await messages.startChat(
            userID: userID,
            conversationID: conversationID,
            text: text,
            newTitle: Self.title(from: text),
            dailyLimit: dailyLimit
        )
        return Started(conversation: started.conversation, message: started.message)
    }

    /// Asks the LLM (telling `onDelta` each piece when streaming) and stores
    /// the answer. When it fails, the user message is kept `failed` with
    /// ``failureSentence(for:)``, it is given back to the day's count (when
    /// counted), and the error is rethrown for the caller to report.
    public func answer(_ started: Started, logger: Logger, onDelta: AnswerDeltas? = nil) async throws -> Answered {
        let answer: ChatAnswer
        do {
            if let onDelta {
                answer = try await responder.answer(started.message, onDelta: onDelta)
            } else {
                answer = try await responder.answer(started.message)
            }
        } catch let error as DatabaseError {
            // The database went away while the prompt was gathered: mark the
            // message failed if it can still be written.
            _ = try? await messages.failMessage(id: started.message.id, error: "The answer could not be prepared; please try again.")
            await giveBack(started, logger: logger)
            throw error
        } catch {
            logger.warning("chat answer failed", metadata: ["message_id": "\(started.message.id)", "error": "\(error)"])
            try await messages.failMessage(id: started.message.id, error: Self.failureSentence(for: error))
            await giveBack(started, logger: logger)
            throw error
        }
        let stored = try await messages.finishChat(
            userMessageID: started.message.id,
            conversationID: started.conversation.id,
            answer: answer.completion.content,
            metadata: responder.metadata(for: answer.completion),
            sources: answer.sources
        )
        return Answered(userMessage: stored.userMessage, assistantMessage: stored.assistantMessage)
    }

    /// What a message that the LLM could not answer shows: the LLM error's
    /// own sentence for people (never the provider's words, which can echo
    /// request details), with a nudge to retry where retrying can help.
    public static func failureSentence(for error: any Error) -> String {
        guard let error = error as? LLMError else { return "The assistant could not answer; please try again." }
        switch error.kind {
        case .invalidResponse, .rejected: return error.userMessage
        default: return error.userMessage + " Please try again."
        }
    }

    /// A message that was not answered does not count against the day.
    private func giveBack(_ started: Started, logger: Logger) async {
        guard dailyLimit != nil else { return }
        do {
            try await usage.refundDailyRequests(1, userID: started.conversation.userID)
        } catch {
            logger.warning("could not give back a request that was not answered", metadata: ["error": "\(error)"])
        }
    }

    /// A conversation title from the first words of its first message.
    public static func title(from text: String) -> String {
        let firstLine = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
        let words = firstLine.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard words.count > 60 else { return words }
        let cut = words.prefix(60)
        let atWord = cut.lastIndex(of: " ").map { cut[..<$0] } ?? cut
        return atWord + "…"
    }
}
