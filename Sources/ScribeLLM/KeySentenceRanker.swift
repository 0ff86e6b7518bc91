/// Picks the sentences that best represent a text, Luhn-style: by how frequent their content
/// words are in the whole text.
///
/// Words are lower-cased, function words (English and Russian) and words shorter than three
/// letters are dropped, and the rest are cut to a six-letter stem so that inflected forms
/// (`document`, `documents`; `документ`, `документа`) count together. A sentence's score is the
/// mean normalised frequency of its stems, damped for very short or very long sentences, with
/// a small bonus for coming early. Ties go to the earlier sentence, so the result is
/// deterministic.
struct KeySentenceRanker {
    /// A chosen sentence and where it was in the text.
    struct Pick: Equatable {
        var index: Int
        var sentence: String
    }

    /// The sentences, in order.
    let sentences: [String]
    private let stemsBySentence: [[String]]
    private let frequency: [String: Int]
    private let surfaceForms: [String: [String: Int]]
    private let firstSeen: [String: Int]

    init(sentences: [String]) {
        self.sentences = sentences
        var stemsBySentence: [[String]] = []
        var frequency: [String: Int] = [:]
        var surfaceForms: [String: [String: Int]] = [:]
        var firstSeen: [String: Int] = [:]
        var position = 0
        for sentence in sentences {
            var stems: [String] = []
            for word in Self.words(in: sentence) {
                let stem = Self.stem(word)
                stems.append(stem)
                frequency[stem, default: 0] += 1
                surfaceForms[stem, default: [:]][word, default: 0] += 1
                if firstSeen[stem] == nil {
                    firstSeen[stem] = position
                }
                position += 1
            }
            stemsBySentence.append(stems)
        }
        self.stemsBySentence = stemsBySentence
        self.frequency = frequency
        self.surfaceForms = surfaceForms
        self.firstSeen = firstSeen
    }

    /// The `limit` best sentences, in their original order.
    func keySentences(limit: Int) -> [Pick] {
        guard limit > 0, let maxFrequency = frequency.values.max() else { return [] }
        let count = sentences.count
        var scored: [(index: Int, score: Double)] = []
        for (index, stems) in stemsBySentence.enumerated() where !stems.isEmpty {
            let mean = stems.reduce(0.0) { $0 + Double(frequency[$1] ?? 0) / Double(maxFrequency) } / Double(stems.count)
            let wordCount = sentences[index].split(whereSeparator: \.isWhitespace).count
            var lengthFactor = 1.0
            if wordCount < 5 {
                lengthFactor = 0.5
            } else if wordCount > 60 {
                lengthFactor = 0.7
            }
            let positionBonus = 1.0 + 0.15 * (1.0 - Double(index) / Double(max(count, 1)))
            scored.append((index, mean * lengthFactor * positionBonus))
        }
        scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        var picked: [Int] = []
        var seen: Set<String> = []
        for candidate in scored where picked.count < limit {
            let key = sentences[candidate.index].lowercased()
            if seen.insert(key).inserted {
                picked.append(candidate.index)
            }
        }
        return picked.sorted().map { Pick(index: $0, sentence: sentences[$0]) }
    }

    /// Up to `limit` content words that occur at least twice, most frequent first, each shown
    /// in its most common form.
    func frequentTerms(limit: Int) -> [String] {
        frequency
            .filter { $0.value >= 2 }
            .sorted { lhs, rhs in
                lhs.value != rhs.value ? lhs.value > rhs.value : (firstSeen[lhs.key] ?? 0) < (firstSeen[rhs.key] ?? 0)
            }
            .prefix(limit)
            .compactMap { entry in
                surfaceForms[entry.key]?.max { lhs, rhs in
                    lhs.value != rhs.value ? lhs.value < rhs.value : lhs.key > rhs.key
                }?.key
            }
    }

    /// Lower-cased content words: letters only, at least three, not a function word.
    static func words(in sentence: String) -> [String] {
        sentence.lowercased()
            .split { !($0.isLetter || $0 == "'" || $0 == "’") }
            .map { String($0).trimmingApostrophes() }
            .filter { $0.count >= 3 && !Stopwords.contains($0) }
    }

    /// A crude, language-neutral stem: the first six letters (`ё` folded to `е`).
    static func stem(_ word: String) -> String {
        String(word.replacingOccurrencesOfYo().prefix(6))
    }
}

extension String {
    fileprivate func trimmingApostrophes() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == "'" || first == "’" {
            slice.removeFirst()
        }
        while let last = slice.last, last == "'" || last == "’" {
            slice.removeLast()
        }
        return String(slice)
    }

    fileprivate func replacingOccurrencesOfYo() -> String {
        String(map { $0 == "ё" ? "е" : $0 })
    }
}
