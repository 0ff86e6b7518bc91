/// The offline ``LLMProvider``: used when no language model is configured, so a fresh machine
/// runs the whole flow with no network.
///
/// It answers honestly from the text itself, never pretending to understand it. The subject is
/// the last user message (which may carry an OCR'd document as `[Document: name]` followed by
/// its text). The answer says that it is an offline extractive summary, describes the text
/// (words, lines, script and likely language) and quotes its key sentences, chosen by term
/// frequency (see ``KeySentenceRanker``) and given in their original order. A short message
/// with no document is echoed back with an explanation instead. The output is deterministic.
public struct ExtractiveProvider: LLMProvider {
    /// The most key sentences quoted.
    public var maxKeySentences: Int

    /// `"extractive"`.
    public var name: String { "extractive" }

    /// Creates the offline provider.
    /// - Parameter maxKeySentences: The most key sentences to quote (default 3).
    public init(maxKeySentences: Int = 3) {
        self.maxKeySentences = maxKeySentences
    }

    /// Summarises the last user message; never fails.
    public func complete(_ messages: [ChatMessage]) async throws(LLMError) -> ChatCompletion {
        let answer = summarize(messages)
        return ChatCompletion(
            content: answer,
            model: "extractive",
            usage: TokenUsage(
                promptTokens: TokenEstimate.tokens(in: messages),
                completionTokens: TokenEstimate.tokens(in: answer)
            ),
            isOffline: true
        )
    }

    /// The answer text for a conversation (synchronous; what ``complete(_:)`` returns).
    public func summarize(_ messages: [ChatMessage]) -> String {
        let text = messages.last(where: { $0.role == .user })?.content ?? ""
        let subject = ExtractiveSubject(text)
        let profile = TextProfile(subject.body)
        let sentences = SentenceSplitter.sentences(in: subject.body)

        if subject.documentNames.isEmpty && (profile.wordCount < 25 || sentences.count < 2) {
            return echo(subject.body, profile: profile)
        }

        var lines: [String] = [
            "Offline extractive summary: no language model is configured, so this is computed from the text itself "
                + "(word counts and its own key sentences), not written by an AI."
        ]
        lines.append("")
        lines.append("What it is: " + whatItIs(subject, profile: profile))
        if profile.wordCount == 0 {
            lines.append("")
            lines.append("There is no readable text to summarise.")
            return lines.joined(separator: "\n")
        }
        lines.append("Script: " + profile.languageDescription)

        let ranker = KeySentenceRanker(sentences: sentences)
        let terms = ranker.frequentTerms(limit: 6)
        if !terms.isEmpty {
            lines.append("Frequent terms: " + terms.joined(separator: ", ") + ".")
        }
        let limit = min(maxKeySentences, max(1, (sentences.count + 1) / 2))
        let picks = ranker.keySentences(limit: limit)
        if !picks.isEmpty {
            lines.append("")
            let heading = picks.count == 1 ? "Key sentence" : "Key sentences"
            lines.append("\(heading) (\(picks.count) of \(sentences.count), in their original order):")
            for (number, pick) in picks.enumerated() {
                lines.append("\(number + 1). \(pick.sentence.truncated(to: 400))")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// "a document “x.pdf” (with the caption “…”): 245 words on 18 lines, 1,530 characters."
    private func whatItIs(_ subject: ExtractiveSubject, profile: TextProfile) -> String {
        var description: String
        switch subject.documentNames.count {
        case 0:
            description = "a message"
        case 1:
            description = "a document “\(subject.documentNames[0])”"
        default:
            description = "\(subject.documentNames.count) documents (" + subject.documentNames.map { "“\($0)”" }.joined(separator: ", ") + ")"
        }
        if let caption = subject.caption {
            description += " sent with the caption “\(caption.truncated(to: 120))”"
        }
        let words = profile.wordCount == 1 ? "1 word" : "\(profile.wordCount.grouped) words"
        let lines = profile.lineCount == 1 ? "1 line" : "\(profile.lineCount.grouped) lines"
        return description + ": \(words) on \(lines), \(profile.characterCount.grouped) characters."
    }

    /// The answer to a short message: say plainly what this is and echo what was sent.
    private func echo(_ text: String, profile: TextProfile) -> String {
        var lines = [
            "I'm running offline: no language model is configured, so I can't answer questions or hold a conversation. "
                + "I can only describe and summarise the text I'm given."
        ]
        if text.isEmpty {
            lines.append("Your message has no text to work with.")
        } else {
            let words = profile.wordCount == 1 ? "1 word" : "\(profile.wordCount) words"
            lines.append("You wrote: “\(text.truncated(to: 500))” (\(words), \(profile.scriptName)).")
        }
        lines.append(
            "Send a longer text or a document (a photo, scan or PDF) and I'll reply with an extractive summary: "
                + "its size, language and key sentences."
        )
        return lines.joined(separator: "\n")
    }
}
