import Foundation
import NIOCore
import PostgresNIO
import ScribeFlows
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// The passages' statements against the real database: indexing a document's
/// pages, ranking them against a question like BM25 (rare words first, word
/// forms and exact codes matched, nothing for a question about nothing),
/// only within the conversation, and a page put back together.
@Suite struct PassageStatementTests {
    typealias Fixture = UploadStatementTests.Fixture

    /// Stores a document of `pages` (a plain-text upload) and indexes each page's passages, as the stages do.
    @discardableResult
    static func document(_ fixture: Fixture, filename: String = "contract.pdf", pages: [String]) async throws -> (message: Message, uploadID: UUID) {
        let stores = fixture.stores
        let uploadID = UUID.v7()
        return try await stores.database.transaction { connection in
            let message = try await stores.uploads.insertUpload(
                id: uploadID,
                userID: fixture.user.id,
                conversationID: fixture.conversation.id,
                caption: nil,
                file: NewUpload(filename: filename, contentType: "application/pdf", bytes: ByteBuffer(string: "%PDF")),
                idempotencyKey: nil,
                requestPosition: 0,
                knownText: (pages.joined(separator: "\n\n"), pages.indices.map { UploadStatementTests.page($0 + 1) }),
                ocrJobID: nil,
                answerJobID: UUID.v7(),
                on: connection
            )
            let passages = pages.enumerated().flatMap { index, text in NewPassage.split(page: index + 1, text: text) }
            try await stores.passages.insert(passages, uploadID: uploadID, on: connection)
            return (message, uploadID)
        }
    }

    /// A 40-page contract: every page full of the words every page uses, each
    /// with a clause of its own; the termination clause on page 37.
    static let contract: [String] = (1...40).map { page in
        let common = (0..<12).map { _ in "The party and the other party to this contract agree that the contract binds each party." }
        let own: String = switch page {
        case 37: "Either party may terminate this agreement by giving ninety days written notice of termination to the other party."
        case 12: "A penalty of two percent applies to each late payment under invoice INV-2024-0087 for account 4411."
        case 21: "The supplier's representative is Ms. Ivanova, who signs for the supplier."
        default: "Clause \(page) describes schedule item number \(page) of the annex in general terms."
        }
        return common.prefix(6).joined(separator: " ") + " " + own + " " + common.suffix(6).joined(separator: " ")
    }

    static let russian: [String] = [
        "Договор поставки заключён между сторонами. Стороны обязуются исполнять договор.",
        "За каждый день просрочки поставки поставщик уплачивает штраф в размере одного процента.",
        "Покупатель оплачивает товар в течение тридцати дней после получения счёта.",
    ]

    static func topPage(_ stores: Stores, _ fixture: Fixture, _ question: String) async throws -> Int? {
        try await stores.passages.search(conversationID: fixture.conversation.id, question: question, limit: 5).first?.page
    }

    @Test func theRareWordTheQuestionIsAboutOutranksWordsOnEveryPage() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await UploadStatementTests.fixture(stores)
            try await Self.document(fixture, pages: Self.contract)
            // "party" and "contract" fill every page; "termination" and "notice" are on page 37 alone.
            #expect(try await Self.topPage(stores, fixture, "What is the notice period for termination of the contract by a party?") == 37)
            // A word the text does not use ("ends") does not make the match fail.
            #expect(try await Self.topPage(stores, fixture, "How does the agreement end, and what notice ends it?") == 37)
            // Other word forms: "penalties" for "penalty", "terminating" for "terminate".
            #expect(try await Self.topPage(stores, fixture, "Are there penalties for paying late?") == 12)
            #expect(try await Self.topPage(stores, fixture, "Terminating early: how?") == 37)
        }
    }

    @Test func codesNumbersAndNamesMatchAsTyped() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await UploadStatementTests.fixture(stores)
            try await Self.document(fixture, pages: Self.contract)
            #expect(try await Self.topPage(stores, fixture, "What does INV-2024-0087 say?") == 12)
            #expect(try await Self.topPage(stores, fixture, "account 4411") == 12)
            #expect(try await Self.topPage(stores, fixture, "Who is Ivanova?") == 21)
        }
    }

    @Test func russianWordFormsMatch() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await UploadStatementTests.fixture(stores)
            try await Self.document(fixture, filename: "договор.pdf", pages: Self.russian)
            // "штрафы" (plural) and "просрочку" (accusative) for "штраф", "просрочки".
            #expect(try await Self.topPage(stores, fixture, "Какие штрафы за просрочку?") == 2)
            #expect(try await Self.topPage(stores, fixture, "Когда оплачивать счета?") == 3)
        }
    }

    @Test func aQuestionAboutNothingInTheDocumentsGetsNothing() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await UploadStatementTests.fixture(stores)
            try await Self.document(fixture, pages: Self.contract)
            #expect(try await stores.passages.search(conversationID: fixture.conversation.id, question: "What's the weather in Lisbon?", limit: 5).isEmpty)
            #expect(try await stores.passages.search(conversationID: fixture.conversation.id, question: "", limit: 5).isEmpty)
            #expect(try await stores.passages.search(conversationID: fixture.conversation.id, question: "?!' \\ & | ( :*", limit: 5).isEmpty)
        }
    }

    @Test func onlyTheConversationsOwnPassagesAreFound() async throws {
        try await TestDatabase.withStores { stores in
            let mine = try await UploadStatementTests.fixture(stores)
            let theirs = try await UploadStatementTests.fixture(stores)
            try await Self.document(theirs, pages: Self.contract)
            #expect(try await stores.passages.search(conversationID: mine.conversation.id, question: "notice of termination", limit: 5).isEmpty)
            let found = try await stores.passages.search(conversationID: theirs.conversation.id, question: "notice of termination", limit: 5)
            #expect(found.first?.filename == "contract.pdf")
            #expect(found.first?.body.contains("ninety days written notice") == true)
        }
    }

    @Test func aPageComesBackWholeFromItsPassagesAndOnlyToItsOwner() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await UploadStatementTests.fixture(stores)
            // Long enough for several overlapping passages, with the page's own line breaks.
            let page = (1...400).map { "word\($0)" + ($0 % 11 == 0 ? "\n" : " ") }.joined().trimmingCharacters(in: .whitespacesAndNewlines)
            let message = try await Self.document(fixture, pages: ["first page", page]).message
            let shown = try #require(try await stores.passages.page(2, messageID: message.id, userID: fixture.user.id))
            #expect(shown.text == page)
            #expect(shown.filename == "contract.pdf")
            #expect(try await stores.passages.page(3, messageID: message.id, userID: fixture.user.id) == nil)
            let stranger = try await TableStatementTests.newUser(stores)
            #expect(try await stores.passages.page(2, messageID: message.id, userID: stranger.id) == nil)
        }
    }

    @Test func indexingAPageAgainChangesNothing() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await UploadStatementTests.fixture(stores)
            let uploadID = try await Self.document(fixture, pages: ["Either party may terminate with notice."]).uploadID
            try await stores.database.transaction { connection in
                try await stores.passages.insert(NewPassage.split(page: 1, text: "Either party may terminate with notice."), uploadID: uploadID, on: connection)
            }
            #expect(try await stores.passages.search(conversationID: fixture.conversation.id, question: "terminate", limit: 5).count == 1)
            // The upload's count, which the ranking reads as the conversation's size, counted it once.
            let counted = try await stores.database.withConnection { connection in
                var count = -1
                for try await value in try await connection.query("SELECT passage_count FROM uploads WHERE id = \(uploadID)", logger: TestDatabase.logger)
                    .decode(Int.self) { count = value }
                return count
            }
            #expect(counted == 1)
        }
    }

    @Test func documentsComeWholeOnlyWhenTheyAllFit() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await UploadStatementTests.fixture(stores)
            try await Self.document(fixture, filename: "a.txt", pages: ["short one"])
            try await Self.document(fixture, filename: "b.txt", pages: ["another short one"])
            let whole = try await stores.passages.documents(conversationID: fixture.conversation.id, wholeUpTo: 1000)
            #expect(whole.map(\.filename) == ["a.txt", "b.txt"])
            #expect(whole.map(\.text) == ["short one", "another short one"])
            let tooBig = try await stores.passages.documents(conversationID: fixture.conversation.id, wholeUpTo: 20)
            #expect(tooBig.map(\.text) == [nil, nil])
            #expect(tooBig.map(\.characters) == [9, 17])
        }
    }
}
