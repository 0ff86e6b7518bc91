import ScribeLLM
import Testing

@testable import ScribeChat

@Suite struct ContextBudgetTests {
    func conversation(_ count: Int, wordsEach: Int = 10) -> [ChatMessage] {
        (0..<count).map { index in
            ChatMessage(role: index.isMultiple(of: 2) ? .user : .assistant, content: "m\(index) " + String(repeating: "word ", count: wordsEach))
        }
    }

    @Test func keepsTheNewestMessagesWithinTheMessageLimit() {
        let budget = ContextBudget(maxMessages: 3, maxTokens: 10_000)
        let prompt = budget.prompt(system: "sys", conversation: conversation(9))
        #expect(prompt.first?.role == .system)
        #expect(prompt.count == 1 + 3 + 1)
        #expect(prompt.dropFirst().map { $0.content.prefix(2) } == ["m5", "m6", "m7", "m8"])
    }

    @Test func dropsOlderMessagesThatDoNotFitTheTokenBudget() {
        // Each message is ~13 tokens; 40 tokens fit the system prompt, the question and two more.
        let budget = ContextBudget(maxMessages: 100, maxTokens: 45)
        let prompt = budget.prompt(system: "sys", conversation: conversation(9))
        #expect(prompt.last?.content.hasPrefix("m8") == true)
        #expect(prompt.count == 4)
    }

    @Test func anOversizedQuestionIsCutNotDropped() {
        let budget = ContextBudget(maxMessages: 10, maxTokens: 300)
        let huge = ChatMessage(role: .user, content: String(repeating: "document text ", count: 10_000))
        let prompt = budget.prompt(system: "sys", conversation: conversation(4) + [huge])
        #expect(prompt.count == 2)
        #expect(prompt[1].content.hasSuffix("[… truncated to fit the context window]"))
        #expect(TokenEstimate.tokens(in: prompt[1].content) < 400)
    }
}
