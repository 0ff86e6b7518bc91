import Foundation
import Logging
import ScribeLLM
import ScribePostgres
import ScribeStore

/// An answer and the passages of the conversation's documents it was given.
public struct ChatAnswer: Sendable {
    public var completion: ChatCompletion
    /// What the answer shows as its sources (empty when no document matched).
    public var sources: [MessageSource]

    public init(completion: ChatCompletion, sources: [MessageSource]) {
        self.completion = completion
        self.sources = sources
    }
}

/// Answers a user message: gathers the conversation's recent history and the
/// passages of its documents that the question needs, fits them to the
/// context budget behind the system prompt, and asks the LLM.
///
/// **Documents.** When all of the conversation's documents fit the budget's
/// document share, they go into the prompt whole. Otherwise the question's
/// best passages (``PassageStore/search(conversationID:question:limit:)``)
/// fill that share, each labelled with its file and page
/// (`[Document: contract.pdf, page 37]`); a file answered without a caption
/// gets its own beginning instead. Either way they follow the question, in
/// the last user message, however long ago the document was uploaded; the
/// earlier messages that carried documents show only a line naming them.
///
/// Used by the synchronous `POST /v1/chat` and by the worker's LLM step, so both
/// see the same prompt for the same history.
public struct ChatResponder: Sendable {
    let messages: MessageStore
    let passages: PassageStore
    let provider: any LLMProvider
    let systemPrompt: String
    let budget: ContextBudget
    let semantic: SemanticRetrieval?

    /// The most passages ranked for one question.
    static let candidatePassages = 24
    /// The most sources shown under an answer.
    static let maxSources = 5

    /// Creates a responder.
    ///
    /// With `semantic`, passages are also ranked by their embeddings' cosine
    /// similarity to the question's, and the two rankings fused
    /// (``rank(_:conversationID:)``).
    public init(
        messages: MessageStore, passages: PassageStore, provider: any LLMProvider, systemPrompt: String, budget: ContextBudget,
        semantic: SemanticRetrieval? = nil
    ) {
        self.messages = messages
        self.passages = passages
        self.provider = provider
        self.systemPrompt = systemPrompt
        self.budget = budget
        self.semantic = semantic
    }

    /// The embedding model semantic retrieval compares with, when it is on.
    public var semanticModel: String? { semantic?.embedder.configuration.model }

    /// The provider's name, for logs and message metadata.
    public var providerName: String { provider.name }

    /// Asks the LLM to answer `message`, with the conversation so far as context.
    public func answer(_ message: Message) async throws -> ChatAnswer {
        let prompt = try await prompt(for: message)
        return ChatAnswer(completion: try await provider.complete(prompt.messages), sources: prompt.sources)
    }

    /// Asks the LLM to answer `message` as a stream: `onDelta` is told each
    /// piece as it is generated; the completion is the whole answer.
    public func answer(_ message: Message, onDelta: @escaping AnswerDeltas) async throws -> ChatAnswer {
        let prompt = try await prompt(for: message)
        return ChatAnswer(completion: try await provider.stream(prompt.messages, onDelta: onDelta), sources: prompt.sources)
    }

    /// The prompt for `message` (the system prompt, the history that fits
    /// the budget, the question with the documents' text it needs) and the
    /// sources that text came from: what the LLM is sent.
    public func prompt(for message: Message) async throws -> (messages: [ChatMessage], sources: [MessageSource]) {
        let history = try await messages.history(
            conversationID: message.conversationID,
            through: message.id,
            limit: budget.maxMessages + 1
        )
        let documents = try await documentContext(for: message)
        // The message being answered may carry text newer than the stored row.
        let conversation = history.map { $0.id == message.id ? message : $0 }.map { earlier in
            ChatMessage(
                role: ChatMessage.Role(earlier.role),
                content: earlier.id == message.id ? Self.question(earlier, documents: documents.text) : Self.mention(of: earlier)
            )
        }
        return (budget.prompt(system: systemPrompt, conversation: conversation), documents.sources)
    }

    /// The documents' text for answering `message` and the sources it came from.
    func documentContext(for message: Message) async throws -> (text: String, sources: [MessageSource]) {
        let share = budget.documentTokens
        // A character is at least a quarter token (TokenEstimate): more characters than that cannot fit.
        let documents = try await passages.documents(conversationID: message.conversationID, wholeUpTo: share * 4)
        guard !documents.isEmpty else { return ("", []) }
        let question = message.content
        let asks = !question.allSatisfy(\.isWhitespace)
        let ranked = asks ? try await rank(question, conversationID: message.conversationID) : []

        let texts = documents.compactMap(\.text)
        if texts.count == documents.count, texts.reduce(0, { $0 + TokenEstimate.tokens(in: $1) }) <= share {
            // Whole: the question's own document first, then the rest in order.
            let ordered = documents.filter { $0.messageID == message.id } + documents.filter { $0.messageID != message.id }
            let text = ordered.map { "[Document: \($0.filename)]\n\($0.text ?? "")" }.joined(separator: "\n\n")
            return (text, Self.sources(ranked))
        }

        var left = share
        var chosen: [RankedPassage] = []
        for passage in ranked {
            let cost = TokenEstimate.tokens(in: passage.body) + 16
            guard cost <= left else { continue }
            left -= cost
            chosen.append(passage)
        }
        if chosen.isEmpty, let own = message.documentText, !asks {
            // A file answered without a question: its own beginning.
            let name = message.attachments.first?.filename ?? "upload"
            return ("[Document: \(name)]\n" + ContextBudget.truncate(own, toTokens: share), [])
        }
        let text = chosen.map { passage in
            "[Document: \(passage.filename)\(passage.page.map { ", page \($0)" } ?? "")]\n\(passage.body)"
        }.joined(separator: "\n\n")
        return (text, Self.sources(chosen))
    }

    /// The conversation's passages that best answer `question`, best first:
    /// the full-text ranking, fused with the semantic one when embeddings are
    /// configured. A question whose embedding cannot be had in time (the
    /// service is down or slow) is answered by full-text search alone.
    public func rank(_ question: String, conversationID: UUID) async throws -> [RankedPassage] {
        let lexical = try await passages.search(conversationID: conversationID, question: question, limit: Self.candidatePassages)
        guard let semantic else { return lexical }
        let vector: PassageEmbedding?
        do {
            vector = try await semantic.embedder.embed([question]).first.flatMap(PassageEmbedding.init)
        } catch {
            semantic.logger.warning("could not embed the question; ranking by full-text search alone", metadata: ["error": "\(error.message)"])
            return lexical
        }
        guard let vector else { return lexical }
        let near = try await passages.nearest(
            conversationID: conversationID,
            question: vector,
            model: semantic.embedder.configuration.model,
            minimumSimilarity: semantic.minimumSimilarity,
            limit: Self.candidatePassages
        )
        return Self.fused([lexical, near], limit: Self.candidatePassages)
    }

    /// Reciprocal-rank fusion: each passage scores the sum over the rankings
    /// that hold it of 1 / (60 + its place), so one found by both comes
    /// first and scores of different scales need no weighing.
    static func fused(_ rankings: [[RankedPassage]], limit: Int) -> [RankedPassage] {
        var best: [String: RankedPassage] = [:]
        var order: [String] = []
        for ranking in rankings {
            for (place, passage) in ranking.enumerated() {
                let key = "\(passage.messageID)/\(passage.page ?? 0)/\(passage.ordinal)"
                let share = 1 / Double(60 + place + 1)
                if var seen = best[key] {
                    seen.score += share
                    best[key] = seen
                } else {
                    var first = passage
                    first.score = share
                    best[key] = first
                    order.append(key)
                }
            }
        }
        // Ties keep the order they were first seen in (full-text first).
        let ranked = order.enumerated().sorted { lhs, rhs in
            let (left, right) = (best[lhs.element]!.score, best[rhs.element]!.score)
            return left != right ? left > right : lhs.offset < rhs.offset
        }
        return ranked.prefix(limit).map { best[$0.element]! }
    }

    /// The question as the LLM reads it: its text (a file's caption), then the documents' text.
    static func question(_ message: Message, documents: String) -> String {
        if documents.isEmpty { return message.content }
        return message.content.isEmpty ? documents : message.content + "\n\n" + documents
    }

    /// An earlier message as the LLM reads it: a message that carried a
    /// document names it; its text comes with the question when it is needed.
    static func mention(of message: Message) -> String {
        guard message.documentText != nil else { return message.content }
        let name = message.attachments.first?.filename ?? "upload"
        let line = "[Attached: \(name)]"
        return message.content.isEmpty ? line : message.content + "\n\n" + line
    }

    /// The best passages as sources: one per page, at most ``maxSources``.
    static func sources(_ passages: [RankedPassage]) -> [MessageSource] {
        var seen: Set<String> = []
        var sources: [MessageSource] = []
        for passage in passages where sources.count < maxSources {
            guard seen.insert("\(passage.messageID)/\(passage.page ?? 0)").inserted else { continue }
            sources.append(MessageSource(messageID: passage.messageID, filename: passage.filename, page: passage.page, snippet: snippet(passage.body)))
        }
        return sources
    }

    /// A passage's opening words: about 160 characters on one line.
    static func snippet(_ body: String) -> String {
        let words = body.split(whereSeparator: \.isWhitespace)
        var snippet = ""
        for word in words {
            if snippet.count + word.count + 1 > 160 { return snippet + " …" }
            snippet += snippet.isEmpty ? String(word) : " " + word
        }
        return snippet
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
        return ChatResponder(messages: messages, passages: passages, provider: provider, systemPrompt: systemPrompt, budget: budget, semantic: semantic)
    }
}

/// Semantic retrieval's part of answering: the embeddings service the
/// question is embedded with, and how near a passage must be to count.
public struct SemanticRetrieval: Sendable {
    public var embedder: EmbeddingsClient
    /// The least cosine similarity to the question a passage needs.
    public var minimumSimilarity: Double
    let logger: Logger

    public init(embedder: EmbeddingsClient, minimumSimilarity: Double, logger: Logger) {
        self.embedder = embedder
        self.minimumSimilarity = minimumSimilarity
        self.logger = logger
    }
}
