/// A stretch of one page's text, the unit retrieval ranks and an answer cites.
public struct TextPassage: Sendable, Hashable {
    /// Its place among the page's passages, from 0.
    public var ordinal: Int
    /// Where it starts and ends in the page's text, in Unicode scalars
    /// (PostgreSQL's characters): `text.unicodeScalars[start..<end]` is `body`.
    public var start: Int
    public var end: Int
    /// The text, with the page's own line breaks and spacing.
    public var body: String
    /// How many words it has (whitespace-separated), for ranking by length.
    public var words: Int

    public init(ordinal: Int, start: Int, end: Int, body: String, words: Int) {
        self.ordinal = ordinal
        self.start = start
        self.end = end
        self.body = body
        self.words = words
    }
}

/// Splits a page's text into passages of ``wordsPerPassage`` words, each
/// overlapping the one before by ``overlapWords`` so that a sentence cut at a
/// boundary is whole in one of them. 150 words is about 200 tokens: small
/// enough that a question's answer is most of a passage, large enough to
/// carry the sentence around it.
public struct PassageSplitter: Sendable {
    public var wordsPerPassage: Int
    public var overlapWords: Int

    public init(wordsPerPassage: Int = 150, overlapWords: Int = 25) {
        precondition(wordsPerPassage > 0 && overlapWords >= 0 && overlapWords < wordsPerPassage)
        self.wordsPerPassage = wordsPerPassage
        self.overlapWords = overlapWords
    }

    /// The passages of `text`, in order; none for a page without words.
    public func passages(of text: String) -> [TextPassage] {
        let scalars = Array(text.unicodeScalars)
        // Each word as the range of its scalars.
        var words: [Range<Int>] = []
        var wordStart: Int?
        for (index, scalar) in scalars.enumerated() {
            if scalar.properties.isWhitespace {
                if let start = wordStart { words.append(start..<index) }
                wordStart = nil
            } else if wordStart == nil {
                wordStart = index
            }
        }
        if let start = wordStart { words.append(start..<scalars.count) }

        var passages: [TextPassage] = []
        var first = 0
        while first < words.count {
            let last = min(first + wordsPerPassage, words.count)
            let start = words[first].lowerBound
            let end = words[last - 1].upperBound
            var body = String.UnicodeScalarView()
            body.append(contentsOf: scalars[start..<end])
            passages.append(TextPassage(ordinal: passages.count, start: start, end: end, body: String(body), words: last - first))
            if last == words.count { break }
            first = last - overlapWords
        }
        return passages
    }
}
