import ArgumentParser
import Foundation
import Logging
import NIOCore
import ScribeChat
import ScribeFlows
import ScribeLLM
import ScribePostgres
import ScribeStore
import ScribeWorker

/// `scribe retrieval-bench`: plants facts on known pages of long English and
/// Russian documents (``RetrievalCorpus``), asks for each after 20 unrelated
/// turns, and checks whether the sentence that answers it is in the prompt
/// (recall@prompt); then times the ranking over `--cost-pages` pages in one
/// conversation. With `EMBEDDINGS_BASE_URL` and `EMBEDDINGS_MODEL` set, every
/// passage is embedded first (as the worker's stage does) and the ranking is
/// the fused one, its time including the question's embedding.
/// Prints one JSON line (used by `scripts/bench`). It writes a
/// user of its own into the configured database (DATABASE_URL) and deletes
/// it at the end.
struct RetrievalBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrieval-bench",
        abstract: "Measure retrieval: recall@prompt of facts planted in long documents, and the ranking's time.",
        discussion: "Prints {\"questions\", \"recall\", \"misses\", \"search_p50_ms\", \"search_p99_ms\", …} as JSON; CONTEXT_MAX_TOKENS applies."
    )

    @Option(help: "Pages of the English document with facts.")
    var englishPages = 200

    @Option(help: "Pages of the Russian document with facts.")
    var russianPages = 120

    @Option(help: "Pages in one conversation for the ranking's time.")
    var costPages = 10_000

    @Option(help: "How many times each question is timed on the cost conversation.")
    var rounds = 5

    @Flag(help: "Keep the user and documents it wrote (to look at the plans), instead of deleting them.")
    var keep = false

    func validate() throws {
        guard englishPages >= RetrievalCorpus.englishFacts.count, russianPages >= RetrievalCorpus.russianFacts.count,
              costPages >= RetrievalCorpus.englishFacts.count, rounds >= 1
        else {
            throw ValidationError(
                "Each document needs a page per fact: --english-pages and --cost-pages at least \(RetrievalCorpus.englishFacts.count), "
                    + "--russian-pages at least \(RetrievalCorpus.russianFacts.count); --rounds at least 1."
            )
        }
    }

    func run() async throws {
        let runtime = try Runtime.load(label: "scribe.retrieval-bench")
        let logger = runtime.logger
        let configuration = runtime.configuration
        let report = try await Database.withRunning(
            runtime.databaseURL,
            options: Database.Options(timeout: .seconds(120), poolSize: 4),
            logger: Logger(label: "scribe.postgres")
        ) { database in
            let stores = Stores(database: database, logger: logger)
            let user = try await stores.users.createUser(
                email: "retrieval-bench-\(UUID().uuidString.lowercased())@example.com", username: nil, passwordHash: "-", origin: AuditOrigin(address: nil, requestID: nil)
            )
            let llm = runtime.makeLLMProvider()
            let responder = ChatResponder(
                messages: stores.messages,
                passages: stores.passages,
                provider: ExtractiveProvider(),
                systemPrompt: configuration.systemPrompt,
                budget: ContextBudget(maxMessages: configuration.historyMaxMessages, maxTokens: configuration.contextMaxTokens),
                semantic: llm.embedder.map {
                    SemanticRetrieval(embedder: $0, minimumSimilarity: configuration.embeddings?.minimumSimilarity ?? 0.4, logger: logger)
                }
            )
            let embedding = llm.embedder.map { EmbeddingStage(passages: stores.passages, database: database, embedder: $0, logger: logger) }
            let result: Report
            do {
                result = try await Self.measure(stores: stores, userID: user.id, responder: responder, embedding: embedding, command: self)
            } catch {
                try? await llm.shutdown()
                throw error
            }
            try await llm.shutdown()
            if !keep {
                try await database.withConnection { connection in
                    _ = try await connection.query("DELETE FROM users WHERE id = \(user.id)", logger: logger)
                }
            }
            return result
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }

    /// What one run measured (printed as one JSON line, keys in snake case).
    struct Report: Codable, Sendable {
        var questions: Int
        var recall: Double
        var recallEn: Double
        var recallRu: Double
        var pages: Int
        var misses: [String]
        var promptTokensMean: Int
        var wholeTokens: Int
        var costPages: Int
        var costRecallAmongBest: Double
        var indexSeconds: Double
        var searches: Int
        var searchP50Ms: Double
        var searchP99Ms: Double
        /// The embedding model when the ranking was fused with semantic search, else nil.
        var embeddingModel: String?
        /// Seconds spent embedding the cost conversation's passages.
        var embedSeconds: Double?
    }

    /// Stores `document` in `conversationID` as one upload, indexed page by
    /// page as the stages index it, and embedded when there is an embedder.
    @discardableResult
    static func store(_ document: RetrievalCorpus.Document, stores: Stores, userID: UUID, conversationID: UUID, embedding: EmbeddingStage?) async throws -> UUID {
        let uploadID = UUID.v7()
        let pages = document.pages.indices.map { index in
            AttachmentPage(page: index + 1, source: "text_layer", rotation: 0, skew: 0, dpi: nil, confidence: nil, warning: nil)
        }
        try await stores.database.transaction(timeout: .seconds(600)) { connection in
            _ = try await stores.uploads.insertUpload(
                id: uploadID,
                userID: userID,
                conversationID: conversationID,
                caption: nil,
                file: NewUpload(filename: document.filename, contentType: "application/pdf", bytes: ByteBuffer(string: "%PDF-1.4")),
                idempotencyKey: nil,
                requestPosition: 0,
                knownText: (document.pages.joined(separator: "\n\n"), pages),
                ocrJobID: nil,
                answerJobID: nil,
                on: connection
            )
            // In slices of 200 pages: one statement's parameters stay small.
            for first in stride(from: 0, to: document.pages.count, by: 200) {
                let slice = document.pages[first..<min(first + 200, document.pages.count)]
                let passages = slice.enumerated().flatMap { offset, text in NewPassage.split(page: first + offset + 1, text: text) }
                try await stores.passages.insert(passages, uploadID: uploadID, on: connection)
            }
        }
        try await embedding?.embedPassages(of: uploadID)
        return uploadID
    }

    static func measure(stores: Stores, userID: UUID, responder: ChatResponder, embedding: EmbeddingStage?, command: RetrievalBenchCommand) async throws -> Report {
        // Recall: both documents in one conversation, 20 unrelated turns, then every question.
        let conversation = try await stores.conversations.createConversation(userID: userID, title: "retrieval bench")
        let english = RetrievalCorpus.document(
            filename: "supply-contract.pdf", pages: command.englishPages, facts: RetrievalCorpus.englishFacts,
            vocabulary: RetrievalCorpus.englishWords, seed: 11
        )
        let russian = RetrievalCorpus.document(
            filename: "договор-поставки.pdf", pages: command.russianPages, facts: RetrievalCorpus.russianFacts,
            vocabulary: RetrievalCorpus.russianWords, seed: 12
        )
        try await store(english, stores: stores, userID: userID, conversationID: conversation.id, embedding: embedding)
        try await store(russian, stores: stores, userID: userID, conversationID: conversation.id, embedding: embedding)
        for turn in 1...20 {
            let started = try await stores.messages.startChat(
                userID: userID, conversationID: conversation.id, text: "Unrelated question \(turn): what should we cook tonight?", newTitle: "x"
            )
            _ = try await stores.messages.finishChat(
                userMessageID: started.message.id, conversationID: conversation.id, answer: "Soup, perhaps.", metadata: MessageMetadata()
            )
        }
        var hits: [String: Int] = ["en": 0, "ru": 0]
        var misses: [String] = []
        var promptTokens: [Int] = []
        for (language, document) in [("en", english), ("ru", russian)] {
            for (fact, page) in document.facts {
                let started = try await stores.messages.startChat(
                    userID: userID, conversationID: conversation.id, text: fact.question, newTitle: "x"
                )
                let prompt = try await responder.prompt(for: started.message)
                let question = prompt.messages.last?.content ?? ""
                promptTokens.append(TokenEstimate.tokens(in: question))
                if question.contains(fact.sentence) {
                    hits[language, default: 0] += 1
                } else {
                    misses.append("\(language) p.\(page): \(fact.question)")
                }
                _ = try await stores.messages.failMessage(id: started.message.id, error: "bench")
            }
        }
        let questions = english.facts.count + russian.facts.count
        let wholeTokens = TokenEstimate.tokens(in: (english.pages + russian.pages).joined(separator: "\n\n"))

        // Cost: one conversation of costPages pages (the English facts planted too).
        let costConversation = try await stores.conversations.createConversation(userID: userID, title: "retrieval bench cost")
        let big = RetrievalCorpus.document(
            filename: "archive.pdf", pages: command.costPages, facts: RetrievalCorpus.englishFacts,
            vocabulary: RetrievalCorpus.englishWords, seed: 13
        )
        let indexStarted = ContinuousClock.now
        let bigUpload = try await store(big, stores: stores, userID: userID, conversationID: costConversation.id, embedding: nil)
        let indexSeconds = (ContinuousClock.now - indexStarted) / .seconds(1)
        let embedStarted = ContinuousClock.now
        try await embedding?.embedPassages(of: bigUpload)
        let embedSeconds = (ContinuousClock.now - embedStarted) / .seconds(1)
        try await stores.database.withConnection { connection in
            _ = try await connection.query("ANALYZE passages", logger: Logger(label: "scribe.retrieval-bench"))
        }
        var times: [Double] = []
        var bigHits = 0
        for round in 0..<command.rounds {
            for (fact, _) in big.facts {
                let started = ContinuousClock.now
                let found = try await responder.rank(fact.question, conversationID: costConversation.id)
                times.append((ContinuousClock.now - started) / .milliseconds(1))
                if round == 0, found.contains(where: { $0.body.contains(fact.sentence) }) { bigHits += 1 }
            }
        }
        times.sort()
        func percentile(_ p: Double) -> Double { times[min(times.count - 1, Int((p * Double(times.count - 1)).rounded()))] }
        return Report(
            questions: questions,
            recall: Double(hits["en", default: 0] + hits["ru", default: 0]) / Double(questions),
            recallEn: Double(hits["en", default: 0]) / Double(english.facts.count),
            recallRu: Double(hits["ru", default: 0]) / Double(russian.facts.count),
            pages: command.englishPages + command.russianPages,
            misses: misses,
            promptTokensMean: promptTokens.reduce(0, +) / max(1, promptTokens.count),
            wholeTokens: wholeTokens,
            costPages: command.costPages,
            costRecallAmongBest: Double(bigHits) / Double(big.facts.count),
            indexSeconds: indexSeconds,
            searches: times.count,
            searchP50Ms: percentile(0.5),
            searchP99Ms: percentile(0.99),
            embeddingModel: embedding == nil ? nil : responder.semanticModel,
            embedSeconds: embedding == nil ? nil : embedSeconds
        )
    }
}
