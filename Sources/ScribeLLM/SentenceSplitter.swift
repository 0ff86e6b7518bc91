import Foundation

/// Splits running text (including OCR output with hard line breaks) into sentences.
///
/// Blank lines end a paragraph; a short unpunctuated line standing on its own (a title or
/// heading) is kept apart; other line breaks inside a paragraph are joined, and a word broken
/// with a hyphen at the end of a line is rejoined. Sentences end at `.`, `!`, `?` or `…`
/// followed by a space and an upper-case letter, digit or opening quote, except after common
/// abbreviations and single-letter initials.
enum SentenceSplitter {
    static func sentences(in text: String) -> [String] {
        paragraphs(in: text).flatMap(segments(of:)).flatMap(split(segment:))
    }

    /// Abbreviations (lower-cased, without the final dot) after which a dot does not end a sentence.
    private static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "st", "vs", "e.g", "i.e", "eg", "ie", "inc", "ltd", "jr", "sr", "no", "fig",
        "approx", "dept", "est", "vol", "p", "pp", "cf", "al",
        "т", "г", "гг", "см", "стр", "им", "др", "пр", "т.е", "т.к", "т.д", "т.п", "т.н", "руб", "коп", "тыс", "млн",
        "млрд", "ул", "д", "кв", "обл", "проф", "рис", "табл", "гл", "п", "пп", "ст",
    ]

    private static let terminators: Set<Character> = [".", "!", "?", "…"]
    private static let closers: Set<Character> = ["\"", "'", "»", "”", "’", ")", "]"]
    private static let openers: Set<Character> = ["\"", "'", "«", "“", "‘", "(", "[", "—", "–", "-"]

    /// Paragraphs as arrays of trimmed, non-empty lines.
    private static func paragraphs(in text: String) -> [[String]] {
        var result: [[String]] = []
        var current: [String] = []
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        for rawLine in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine).trimmingWhitespace()
            if line.isEmpty {
                if !current.isEmpty {
                    result.append(current)
                    current = []
                }
            } else {
                current.append(line)
            }
        }
        if !current.isEmpty {
            result.append(current)
        }
        return result
    }

    /// Joins a paragraph's lines into segments, keeping headings apart.
    private static func segments(of lines: [String]) -> [String] {
        var segments: [String] = []
        var current = ""
        for line in lines {
            let isHeading = !endsSentence(line) && line.split(separator: " ").count <= 6 && (current.isEmpty || endsSentence(current))
            if isHeading {
                if !current.isEmpty {
                    segments.append(current)
                    current = ""
                }
                segments.append(line)
                continue
            }
            if current.isEmpty {
                current = line
            } else if current.hasSuffix("-"), let first = line.first, first.isLowercase {
                current.removeLast()
                current += line
            } else {
                current += " " + line
            }
        }
        if !current.isEmpty {
            segments.append(current)
        }
        return segments
    }

    private static func endsSentence(_ text: String) -> Bool {
        var trimmed = Substring(text)
        while let last = trimmed.last, closers.contains(last) {
            trimmed.removeLast()
        }
        return trimmed.last.map { terminators.contains($0) || $0 == ":" || $0 == ";" } ?? false
    }

    /// Splits one segment at sentence boundaries.
    private static func split(segment: String) -> [String] {
        let characters = Array(segment)
        var sentences: [String] = []
        var start = 0
        var index = 0
        while index < characters.count {
            guard terminators.contains(characters[index]) else {
                index += 1
                continue
            }
            var end = index + 1
            while end < characters.count, terminators.contains(characters[end]) || closers.contains(characters[end]) {
                end += 1
            }
            guard end < characters.count, characters[end].isWhitespace else {
                index = end
                continue
            }
            var next = end
            while next < characters.count, characters[next].isWhitespace {
                next += 1
            }
            guard next < characters.count else { break }
            let following = characters[next]
            let startsSentence = following.isUppercase || following.isNumber || openers.contains(following)
            if startsSentence && !(characters[index] == "." && isAbbreviation(before: index, in: characters)) {
                appendSentence(characters[start..<end], to: &sentences)
                start = next
            }
            index = next
        }
        appendSentence(characters[start..<characters.count], to: &sentences)
        return sentences
    }

    /// Whether the word ending at `dot` is an abbreviation or an initial.
    private static func isAbbreviation(before dot: Int, in characters: [Character]) -> Bool {
        var wordStart = dot
        while wordStart > 0, !characters[wordStart - 1].isWhitespace, !openers.contains(characters[wordStart - 1]) {
            wordStart -= 1
        }
        let word = String(characters[wordStart..<dot]).lowercased()
        guard !word.isEmpty else { return false }
        if word.count == 1, let letter = word.first, letter.isLetter {
            return true
        }
        return abbreviations.contains(word)
    }

    private static func appendSentence(_ characters: ArraySlice<Character>, to sentences: inout [String]) {
        let sentence = String(characters).trimmingWhitespace()
        if sentence.contains(where: { $0.isLetter || $0.isNumber }) {
            sentences.append(sentence)
        }
    }
}
