import Foundation
import ScribeLLM
import Testing

@Suite("ExtractiveProvider")
struct ExtractiveProviderTests {
    static let englishText = """
        Annual Water Quality Report

        The city water treatment plant delivered safe drinking water to 48,000 homes in 2023. \
        Every month the laboratory tested the treated water for lead, nitrates and bacteria.
        All water samples met the national drinking water standards, and no violations were recorded.
        The plant replaced two old filters in March. Staff also trained new operators during the summer.

        Lead pipes remain in some older homes, so the city offers free water testing for lead on request. \
        Residents can ask for a test by calling the water office. The report ends with a list of contacts.
        """

    static let russianText = """
        Отчёт о работе библиотеки

        В прошлом году городская библиотека приняла более двенадцати тысяч читателей. \
        Библиотека открыла новый читальный зал для детей и подростков.
        Читатели чаще всего брали книги по истории и художественную литературу. \
        Сотрудники библиотеки провели сорок встреч с авторами книг.
        Электронный каталог библиотеки теперь доступен читателям круглосуточно. \
        Летом в здании отремонтировали крышу.
        """

    private func answer(_ text: String) async throws -> ChatCompletion {
        try await ExtractiveProvider().complete([.system("You are Scribe."), .user(text)])
    }

    /// The numbered key sentences in an answer.
    private func keySentences(in content: String) -> [String] {
        content.split(separator: "\n").compactMap { line -> String? in
            guard let first = line.first, first.isNumber, let dot = line.firstIndex(of: ".") else { return nil }
            return String(line[line.index(after: dot)...]).trimmingCharacters(in: .whitespaces)
        }
    }

    @Test func englishTextIsDescribedAndSummarised() async throws {
        let completion = try await answer(Self.englishText)
        let content = completion.content
        #expect(completion.isOffline)
        #expect(completion.model == "extractive")
        #expect(content.hasPrefix("Offline extractive summary: no language model is configured"))
        #expect(content.contains("Latin script, most likely English"))
        #expect(content.contains("98 words on 5 lines"))
        #expect(content.contains("Key sentences (3 of 9"))
        #expect(content.contains("Frequent terms: water"))
        let picks = keySentences(in: content)
        #expect(picks.count == 3)
        // Every pick is a sentence of the text, in the text's order.
        let flat = Self.englishText.replacingOccurrences(of: "\n", with: " ")
        let positions = picks.compactMap { flat.range(of: $0)?.lowerBound }
        #expect(positions.count == 3)
        #expect(positions == positions.sorted())
        #expect(picks.contains("All water samples met the national drinking water standards, and no violations were recorded."))
        let usage = try #require(completion.usage)
        #expect(usage.completionTokens == TokenEstimate.tokens(in: content))
        #expect(usage.promptTokens == TokenEstimate.tokens(in: "You are Scribe.") + TokenEstimate.tokens(in: Self.englishText))
    }

    @Test func russianTextIsDetectedAsCyrillic() async throws {
        let content = try await answer(Self.russianText).content
        #expect(content.contains("offline") || content.contains("Offline"))
        #expect(content.contains("Cyrillic script, most likely Russian"))
        let picks = keySentences(in: content)
        #expect(picks.count == 3)
        #expect(picks.allSatisfy { Self.russianText.replacingOccurrences(of: "\n", with: " ").contains($0) })
        #expect(picks.contains { $0.contains("библиотек") })
    }

    @Test func mixedTextIsReportedAsMixed() async throws {
        let text = """
            The meeting notes are written in two languages for the partners. \
            Встреча прошла в офисе компании в Москве. The next meeting will be held in London. \
            Следующая встреча будет в Лондоне в марте.
            """
        let content = try await answer(text).content
        #expect(content.contains("mixed Latin and Cyrillic script"))
    }

    @Test func shortGreetingIsEchoedHonestly() async throws {
        let completion = try await answer("hello")
        #expect(completion.isOffline)
        #expect(completion.content.contains("offline"))
        #expect(completion.content.contains("no language model is configured"))
        #expect(completion.content.contains("“hello”"))
        #expect(!completion.content.contains("Key sentence"))
    }

    @Test func emptyConversationStillAnswers() async throws {
        let completion = try await ExtractiveProvider().complete([])
        #expect(completion.content.contains("offline"))
        #expect(completion.content.contains("no text"))
    }

    @Test func documentWithCaptionIsSummarisedWithoutTheCaption() async throws {
        let text = "What does this say?\n\n[Document: report.pdf]\n" + Self.englishText
        let content = try await answer(text).content
        #expect(content.contains("a document “report.pdf” sent with the caption “What does this say?”"))
        #expect(!keySentences(in: content).contains { $0.contains("What does this say") })
        #expect(keySentences(in: content).count == 3)
    }

    @Test func shortDocumentIsStillSummarised() async throws {
        let content = try await answer("[Document: note.jpg]\nMeet at noon.").content
        #expect(content.contains("a document “note.jpg”: 3 words on 1 line"))
        #expect(content.contains("Key sentence (1 of 1"))
        #expect(content.contains("1. Meet at noon."))
    }

    @Test func emptyDocumentSaysThereIsNoText() async throws {
        let content = try await answer("[Document: blank.png]\n   \n").content
        #expect(content.contains("no readable text"))
    }

    @Test func ocrLineBreaksAndHyphenationAreJoined() async throws {
        let text = """
            The committee approved the new budget for the regional hos-
            pital after a long discussion about staffing and equipment
            costs. The hospital budget includes money for two new
            ambulances and a larger emergency department. Staffing costs
            will rise by four percent next year. The committee will review
            the hospital budget again in the autumn.
            """
        let content = try await answer(text).content
        #expect(content.contains("regional hospital after a long discussion"))
        #expect(content.contains("words on 6 lines"))
    }

    @Test func answersAreDeterministic() async throws {
        let first = try await answer(Self.englishText)
        let second = try await answer(Self.englishText)
        #expect(first == second)
    }
}
