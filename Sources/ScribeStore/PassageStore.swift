import Foundation
import Logging
import NIOCore
import PostgresNIO
import ScribePostgres

/// One passage of a page to index (``PassageStore/insert(_:uploadID:on:)``).
public struct NewPassage: Sendable, Hashable {
    /// The page, from 1; nil when the document's page breaks are not known.
    public var page: Int?
    public var ordinal: Int
    /// Where it starts and ends in the page's text, in characters.
    public var startOffset: Int
    public var endOffset: Int
    public var body: String
    public var words: Int

    public init(page: Int?, ordinal: Int, startOffset: Int, endOffset: Int, body: String, words: Int) {
        self.page = page
        self.ordinal = ordinal
        self.startOffset = startOffset
        self.endOffset = endOffset
        self.body = body
        self.words = words
    }
}

/// A passage found for a question, best first.
public struct RankedPassage: Sendable, Hashable {
    /// The user message that carried the document.
    public var messageID: UUID
    public var filename: String
    public var page: Int?
    public var ordinal: Int
    public var body: String
    /// BM25-like: the sum over the question's terms found in it of the term's
    /// rarity in the conversation times how often it occurs (saturating).
    public var score: Double

    /// How a ranking statement returns one: message, file, page, ordinal, body, score.
    typealias Row = (UUID, String, Int?, Int, String, Double)

    public init(messageID: UUID, filename: String, page: Int?, ordinal: Int, body: String, score: Double) {
        self.messageID = messageID
        self.filename = filename
        self.page = page
        self.ordinal = ordinal
        self.body = body
        self.score = score
    }
}

/// A document of a conversation and the size of its text.
public struct ConversationDocument: Sendable, Hashable {
    /// The user message that carried it.
    public var messageID: UUID
    public var filename: String
    /// Its whole text when it was asked for and fits, else nil.
    public var text: String?
    /// Characters in its text.
    public var characters: Int

    public init(messageID: UUID, filename: String, text: String?, characters: Int) {
        self.messageID = messageID
        self.filename = filename
        self.text = text
        self.characters = characters
    }
}

/// What a page of a document shows when a source is opened.
public struct PassagePage: Sendable, Hashable {
    public var messageID: UUID
    public var filename: String
    public var page: Int?
    /// The page's recognised text, put back together from its passages.
    public var text: String
}

/// The passages of documents (`passages`, sql/015): written with each page's
/// text checkpoint, ranked against a question when answering.
///
/// **The index.** Each passage's `search` is its words stemmed in its
/// script's language (the built-in `english` or `russian` configuration,
/// ``PassageIndex/language(of:)``) plus its exact tokens
/// (``PassageIndex/exactTokens(in:)``: codes, numbers and names as typed),
/// under a GIN index.
///
/// **The ranking** is BM25-like, computed in one statement: a term's weight
/// is its inverse document frequency among the conversation's passages,
/// `ln(1 + (N − df + ½) / (df + ½))`, and a passage scores the sum of its
/// terms' weights times `ts_rank` of that one term (which saturates with the
/// term's count, as BM25's `tf` does). A question's words are OR-ed, so a
/// word the text does not use costs nothing; a word in most passages weighs
/// almost nothing, so it cannot outrank the rare word the question is about.
/// Modal verbs and other words that ask rather than name ("may", "could",
/// "tell") are left out of the question, as stop words are: PostgreSQL's
/// English list does not have them, and a contract's one "may" would make
/// "Is it warm in May?" match its termination clause.
/// Candidates come from the rarest terms (up to 1,000 passages) and from
/// the passages holding every term (up to 200), so a question's cost does
/// not grow with the conversation; the conversation's passage count comes
/// from its uploads' `passage_count`, kept as passages are written. Passages under 30 % of the best score are dropped: a
/// question that matches nothing, or only words that fill every page, gets
/// nothing.
public struct PassageStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Indexes `passages` of the upload `uploadID` (its message,
    /// conversation, owner and file name are the upload's), in the caller's
    /// transaction. A passage already there (the same page and place) is
    /// left as it is, so indexing again changes nothing.
    public func insert(_ passages: [NewPassage], uploadID: UUID, on connection: PostgresConnection) async throws {
        guard !passages.isEmpty else { return }
        let languages = passages.map { PassageIndex.language(of: $0.body) }
        let exact = passages.map { PassageIndex.exactTokens(in: $0.body).joined(separator: " ") }
        try await connection.query(
            """
            WITH inserted AS (
            INSERT INTO passages (upload_id, message_id, conversation_id, user_id, filename, page, ordinal,
                                  start_offset, end_offset, body, words, language, search)
            SELECT u.id, u.message_id, u.conversation_id, u.user_id, u.filename, nullif(p.page, 0), p.ordinal,
                   p.start_offset, p.end_offset, p.body, p.words, p.language::regconfig,
                   to_tsvector(p.language::regconfig, p.body) || array_to_tsvector(string_to_array(p.exact, ' '))
            FROM uploads u,
                 unnest(\(passages.map { $0.page ?? 0 })::int[], \(passages.map(\.ordinal))::int[], \(passages.map(\.startOffset))::int[],
                        \(passages.map(\.endOffset))::int[], \(passages.map(\.body))::text[], \(passages.map(\.words))::int[],
                        \(languages)::text[], \(exact)::text[])
                 AS p(page, ordinal, start_offset, end_offset, body, words, language, exact)
            WHERE u.id = \(uploadID)
            ON CONFLICT (upload_id, coalesce(page, 0), ordinal) DO NOTHING
            RETURNING 1
            )
            UPDATE uploads SET passage_count = passage_count + (SELECT count(*) FROM inserted) WHERE id = \(uploadID)
            """,
            logger: logger
        )
    }

    /// The passages of `conversationID`'s documents that best answer
    /// `question`, best first, at most `limit`.
    public func search(conversationID: UUID, question: String, limit: Int) async throws -> [RankedPassage] {
        let statement = PassageSearchStatement(
            conversationID: conversationID,
            question: question,
            exactTokens: PassageIndex.exactTokens(in: question),
            limit: limit
        )
        return try await ranked(statement)
    }

    /// The passages a ranking statement found, in its order.
    private func ranked<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [RankedPassage]
    where Statement.Row == RankedPassage.Row {
        try await database.withConnection { [logger] connection in
            var found: [RankedPassage] = []
            for try await row in try await connection.execute(statement, logger: logger) {
                found.append(RankedPassage(messageID: row.0, filename: row.1, page: row.2, ordinal: row.3, body: row.4, score: row.5))
            }
            return found
        }
    }

    /// The documents of `conversationID` read so far, oldest first, each
    /// with its whole text when all of them together have at most
    /// `wholeUpTo` characters (else none has its text).
    public func documents(conversationID: UUID, wholeUpTo: Int) async throws -> [ConversationDocument] {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT m.id, coalesce(m.attachments->0->>'filename', 'upload'), m.document_characters,
                       CASE WHEN sum(m.document_characters) OVER () <= \(wholeUpTo) THEN m.document_text END
                FROM messages m
                WHERE m.conversation_id = \(conversationID) AND m.document_text IS NOT NULL
                ORDER BY m.id
                """,
                logger: logger
            )
            var documents: [ConversationDocument] = []
            for try await (id, filename, characters, text) in rows.decode((UUID, String, Int, String?).self) {
                documents.append(ConversationDocument(messageID: id, filename: filename, text: text, characters: characters))
            }
            return documents
        }
    }

    /// Page `page` of the document carried by message `messageID`, as its
    /// passages give it back, if `userID` owns it; nil when there is no such
    /// page (or it is someone else's).
    public func page(_ page: Int, messageID: UUID, userID: UUID) async throws -> PassagePage? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT filename, start_offset, end_offset, body FROM passages
                WHERE message_id = \(messageID) AND user_id = \(userID) AND page = \(page)
                ORDER BY ordinal
                """,
                logger: logger
            )
            var filename: String?
            var pieces: [(start: Int, end: Int, body: String)] = []
            for try await (name, start, end, body) in rows.decode((String, Int, Int, String).self) {
                filename = name
                pieces.append((start, end, body))
            }
            guard let filename else { return nil }
            return PassagePage(messageID: messageID, filename: filename, page: page, text: PassageIndex.stitch(pieces))
        }
    }

    // MARK: Embeddings

    /// Semantic candidates: the passages whose signs are nearest the
    /// question's (Hamming distance) are compared by exact cosine; at most
    /// this many, whatever the conversation's size.
    static let semanticCandidates = 200

    /// The passages of `conversationID` nearest `question` in meaning (cosine
    /// similarity of unit vectors of the same model), best first, at most
    /// `limit`, none under `minimumSimilarity`. `score` is the similarity.
    ///
    /// The database picks the candidates by the signs' Hamming distance (in
    /// C); their exact cosines are computed here, where 200 dot products take
    /// microseconds (in SQL, unnesting each vector took milliseconds).
    public func nearest(conversationID: UUID, question: PassageEmbedding, model: String, minimumSimilarity: Double, limit: Int) async throws -> [RankedPassage] {
        let statement = PassageNearestStatement(conversationID: conversationID, bits: question.bits, model: model, candidates: Self.semanticCandidates)
        let candidates = try await database.withConnection { [logger] connection in
            var found: [(passage: RankedPassage, id: Int64)] = []
            for try await (id, messageID, filename, page, ordinal, body, embedding) in try await connection.execute(statement, logger: logger) {
                guard embedding.count == question.vector.count else { continue }
                let similarity = Double(zip(embedding, question.vector).reduce(Float(0)) { $0 + $1.0 * $1.1 })
                guard similarity >= minimumSimilarity else { continue }
                found.append((RankedPassage(messageID: messageID, filename: filename, page: page, ordinal: ordinal, body: body, score: similarity), id))
            }
            return found
        }
        return candidates.sorted { $0.passage.score != $1.passage.score ? $0.passage.score > $1.passage.score : $0.id < $1.id }
            .prefix(limit).map(\.passage)
    }

    /// Up to `limit` uploads with passages still to embed, oldest first.
    public func uploadsToEmbed(limit: Int) async throws -> [UUID] {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                // Walks the partial index and stops at `limit` uploads: O(what it returns),
                // not O(the backlog), every two seconds in every worker.
                "SELECT DISTINCT upload_id FROM passages WHERE embedding IS NULL ORDER BY upload_id LIMIT \(limit)",
                logger: logger
            )
            var uploads: [UUID] = []
            for try await id in rows.decode(UUID.self) { uploads.append(id) }
            return uploads
        }
    }

    /// Forgets the embeddings another model wrote (their vectors cannot be
    /// compared with this model's), so they are embedded again; how many.
    public func forgetEmbeddings(notOf model: String) async throws -> Int {
        try await database.withConnection(timeout: database.options.timeout * 10) { connection in
            let rows = try await connection.query(
                """
                WITH forgotten AS (
                    UPDATE passages SET embedding = NULL, embedding_bits = NULL, embedding_model = NULL
                    WHERE embedding_model <> \(model) RETURNING 1
                ) SELECT count(*) FROM forgotten
                """,
                logger: logger
            )
            for try await count in rows.decode(Int.self) { return count }
            return 0
        }
    }

    /// Up to `limit` passages of `uploadID` still to embed, in order.
    public func unembedded(uploadID: UUID, limit: Int) async throws -> [PassageToEmbed] {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                "SELECT id, body FROM passages WHERE upload_id = \(uploadID) AND embedding IS NULL ORDER BY id LIMIT \(limit)",
                logger: logger
            )
            var passages: [PassageToEmbed] = []
            for try await (id, body) in rows.decode((Int64, String).self) { passages.append(PassageToEmbed(id: id, body: body)) }
            return passages
        }
    }

    /// Writes `embeddings` (by passage id) as `model`'s, on the caller's
    /// connection; a passage embedded already is left as it is. An empty
    /// vector marks a passage the service refused for good (never asked again).
    public func saveEmbeddings(_ embeddings: [(id: Int64, embedding: PassageEmbedding?)], model: String, on connection: PostgresConnection) async throws {
        guard !embeddings.isEmpty else { return }
        let vectors = embeddings.map { entry in
            "{" + (entry.embedding?.vector.map { "\($0)" }.joined(separator: ",") ?? "") + "}"
        }
        try await connection.query(
            """
            UPDATE passages p SET embedding = e.vector::real[], embedding_bits = nullif(e.bits, '')::varbit, embedding_model = \(model)
            FROM unnest(\(embeddings.map(\.id))::int8[], \(vectors)::text[], \(embeddings.map { $0.embedding?.bits ?? "" })::text[]) AS e(id, vector, bits)
            WHERE p.id = e.id AND p.embedding IS NULL
            """,
            logger: logger
        )
    }

    // MARK: Backfill

    /// Up to `limit` uploads whose text was checkpointed before passages
    /// existed, each locked for the caller's transaction (others skip it).
    public func lockUnindexed(limit: Int, on connection: PostgresConnection) async throws -> [UnindexedUpload] {
        let rows = try await connection.query(
            """
            SELECT u.id, u.document_text, coalesce(u.page_count, 1),
                   coalesce((SELECT array_agg(coalesce(p.text, '') ORDER BY p.page) FROM upload_pages p WHERE p.upload_id = u.id), '{}')
            FROM uploads u
            WHERE u.passages_at IS NULL AND u.document_text IS NOT NULL
            ORDER BY u.created_at
            LIMIT \(limit)
            FOR UPDATE OF u SKIP LOCKED
            """,
            logger: logger
        )
        var uploads: [UnindexedUpload] = []
        for try await (id, text, pageCount, pageTexts) in rows.decode((UUID, String, Int, [String]).self) {
            uploads.append(UnindexedUpload(id: id, text: text, pageCount: pageCount, pageTexts: pageTexts))
        }
        return uploads
    }

    /// Marks `uploadID`'s passages written, in the caller's transaction.
    public func markIndexed(uploadID: UUID, on connection: PostgresConnection) async throws {
        try await connection.query("UPDATE uploads SET passages_at = now() WHERE id = \(uploadID)", logger: logger)
    }
}

/// A passage to embed (``PassageStore/unembedded(uploadID:limit:)``).
public struct PassageToEmbed: Sendable, Hashable {
    public var id: Int64
    public var body: String
}

/// An embedding as Scribe stores and compares it: scaled to length 1 (so a
/// dot product is the cosine), with its signs as a bit string (`1` for a
/// positive dimension) for the cheap first pass of ``PassageStore/nearest(conversationID:question:model:minimumSimilarity:limit:)``.
public struct PassageEmbedding: Sendable, Hashable {
    public var vector: [Float]
    public var bits: String

    /// `raw` scaled to length 1; nil for a zero (or empty) vector, which has no direction.
    public init?(_ raw: [Float]) {
        let length = raw.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard length > 0, length.isFinite else { return nil }
        vector = raw.map { Float(Double($0) / length) }
        bits = String(raw.map { $0 > 0 ? "1" : "0" })
    }
}

/// An upload read before passages existed (``PassageStore/lockUnindexed(limit:on:)``).
public struct UnindexedUpload: Sendable, Hashable {
    public var id: UUID
    /// Its whole checkpointed text.
    public var text: String
    public var pageCount: Int
    /// Each page's text when it was read page by page, else empty.
    public var pageTexts: [String]
}

/// How passages are indexed and questions matched: the one definition both
/// sides use.
public enum PassageIndex {
    /// `russian` for text mostly in Cyrillic letters, else `english`: the
    /// built-in configuration that stems the passage's words. (Both stem
    /// Latin words in English, so a Russian passage's English terms match.)
    public static func language(of text: String) -> String {
        var cyrillic = 0
        var letters = 0
        for scalar in text.unicodeScalars where scalar.properties.isAlphabetic {
            letters += 1
            if (0x0400...0x04FF).contains(scalar.value) { cyrillic += 1 }
        }
        return letters > 0 && cyrillic * 10 >= letters * 3 ? "russian" : "english"
    }

    /// The tokens matched as typed, lowercased: any with a digit
    /// ("inv-2024-0087", "4411", "12.05.2024"), any written in capitals
    /// ("IBAN"), and capitalised words inside a sentence (names: "Ivanova").
    /// A token is letters and digits joined by `-`, `/`, `.`, `_` or `:`.
    public static func exactTokens(in text: String) -> [String] {
        var tokens: [String] = []
        var seen: Set<String> = []
        var current = String.UnicodeScalarView()
        // Whether the next word begins a sentence, and whether the current one did.
        var nextStartsSentence = true
        var currentStartsSentence = true

        func finishToken() {
            // Joiners at the end are punctuation, not part of the token ("Ivanova." ends a sentence).
            while let last = current.last, joiners.contains(last) {
                if sentenceEnders.contains(last) { nextStartsSentence = true }
                current.removeLast()
            }
            guard current.count >= 2 else { return }
            let token = String(current)
            let letters = token.unicodeScalars.filter(\.properties.isAlphabetic)
            let hasDigit = token.unicodeScalars.contains { $0.properties.numericType != nil }
            let allCapitals = letters.count >= 2 && letters.allSatisfy(\.properties.isUppercase)
            let name = !currentStartsSentence && token.unicodeScalars.first?.properties.isUppercase == true
            if hasDigit || allCapitals || name {
                let lowered = token.lowercased()
                if seen.insert(lowered).inserted { tokens.append(lowered) }
            }
        }

        for scalar in text.unicodeScalars {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                if current.isEmpty {
                    currentStartsSentence = nextStartsSentence
                    nextStartsSentence = false
                }
                current.append(scalar)
            } else if joiners.contains(scalar), !current.isEmpty {
                current.append(scalar)
            } else {
                finishToken()
                current = String.UnicodeScalarView()
                if sentenceEnders.contains(scalar) { nextStartsSentence = true }
            }
        }
        finishToken()
        return tokens
    }

    private static let joiners: Set<Unicode.Scalar> = ["-", "/", ".", "_", ":"]
    private static let sentenceEnders: Set<Unicode.Scalar> = [".", "!", "?", "\n"]

    /// A page's text put back together from its passages (in any order):
    /// each adds what it has beyond the one before, so overlapping passages
    /// (as `PassageSplitter` writes them) give back the page's text from its
    /// first word to its last.
    public static func stitch(_ passages: [(start: Int, end: Int, body: String)]) -> String {
        var result = String.UnicodeScalarView()
        var reached: Int?
        for passage in passages.sorted(by: { $0.start < $1.start }) {
            let scalars = Array(passage.body.unicodeScalars)
            guard let end = reached else {
                result.append(contentsOf: scalars)
                reached = passage.end
                continue
            }
            if passage.start >= end {
                result.append("\n")
                result.append(contentsOf: scalars)
            } else if passage.end > end {
                result.append(contentsOf: scalars.dropFirst(end - passage.start))
            }
            reached = max(end, passage.end)
        }
        return String(result)
    }
}

/// The ranking statement (see ``PassageStore``), prepared once per
/// connection: it runs for every answer in a conversation with documents.
struct PassageSearchStatement: PostgresPreparedStatement {
    // A term's document frequency is counted up to 1,000 passages; the rare
    // terms bring at most 1,000 candidates, the passages with every term 200:
    // what bounds a question's cost.

    static let sql = #"""
        WITH terms AS (
            SELECT DISTINCT lexeme,
                   ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery AS query
            FROM unnest(to_tsvector('english', $2) || to_tsvector('russian', $2) || array_to_tsvector($3::text[]))
            -- Words that ask rather than name: PostgreSQL's English stop words leave out the modals.
            WHERE lexeme <> ALL ('{may,might,must,shall,would,could,need,much,mani,also,pleas,tell,know,want}'::text[])
        ),
        total AS MATERIALIZED (SELECT coalesce(sum(passage_count), 0)::float8 AS n FROM uploads WHERE conversation_id = $1),
        -- Materialized: each term's count runs once, not once per use of its result.
        counted AS MATERIALIZED (
            SELECT t.lexeme, t.query,
                   (SELECT count(*) FROM (SELECT FROM passages p WHERE p.conversation_id = $1 AND p.search @@ t.query LIMIT 1000) hit)::float8 AS df
            FROM terms t
        ),
        weighted AS MATERIALIZED (
            SELECT c.lexeme, c.query, c.df, ln(1 + (total.n - c.df + 0.5) / (c.df + 0.5)) AS idf, total.n
            FROM counted c, total WHERE c.df > 0
        ),
        rare AS (
            SELECT scribe_tsquery_or(query) AS query FROM (
                SELECT query, sum(df) OVER (ORDER BY df, lexeme) AS running FROM weighted
                WHERE df < 1000 AND df <= greatest(1, n / 2)
            ) r WHERE running <= 1000
        ),
        candidates AS (
            SELECT p.id FROM passages p, rare
            WHERE p.conversation_id = $1 AND p.search @@ rare.query
            UNION
            (SELECT p.id FROM passages p
             WHERE p.conversation_id = $1 AND (SELECT count(*) FROM weighted) > 1
               AND p.search @@ (SELECT string_agg(query::text, ' & ')::tsquery FROM weighted)
             LIMIT 200)
        ),
        scored AS (
            SELECT p.id, p.message_id, p.filename, p.page, p.ordinal, p.body,
                   (SELECT sum(w.idf * ts_rank(p.search, w.query, 0)) FROM weighted w) AS score
            FROM candidates c JOIN passages p ON p.id = c.id
        )
        SELECT message_id, filename, page, ordinal, body, score FROM scored
        WHERE score >= 0.3 * (SELECT max(score) FROM scored)
        ORDER BY score DESC, id
        LIMIT $4
        """#

    typealias Row = RankedPassage.Row

    var conversationID: UUID
    var question: String
    var exactTokens: [String]
    var limit: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(conversationID)
        bindings.append(question)
        bindings.append(exactTokens)
        bindings.append(limit)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

/// The semantic candidates (see ``PassageStore/nearest(conversationID:question:model:minimumSimilarity:limit:)``):
/// the passages whose signs are nearest the question's, with their vectors.
struct PassageNearestStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT p.id, p.message_id, p.filename, p.page, p.ordinal, p.body, p.embedding FROM passages p
        WHERE p.conversation_id = $1 AND p.embedding_model = $3 AND length(p.embedding_bits) = length($2::varbit)
        ORDER BY bit_count(p.embedding_bits # $2::varbit), p.id
        LIMIT $4
        """

    typealias Row = (Int64, UUID, String, Int?, Int, String, [Float])

    var conversationID: UUID
    var bits: String
    var model: String
    var candidates: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(conversationID)
        bindings.append(bits)
        bindings.append(model)
        bindings.append(candidates)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
