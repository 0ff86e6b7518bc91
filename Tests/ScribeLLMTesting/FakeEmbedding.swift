import Foundation

/// The fake server's embeddings: the set of concepts a text names, hashed into
/// ``dimensions`` signed dimensions and scaled to length 1. Words are
/// lowercased, crudely stemmed and mapped to a concept, so a few groups of
/// synonyms ("terminates", "ends", "cancellation"; "penalty", "fine") land
/// on the same dimensions: enough meaning for a test to find a passage that
/// shares no word with its question, and nothing more. Deterministic.
public enum FakeEmbedding {
    public static let dimensions = 512

    /// The vector of `text`.
    public static func vector(for text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: dimensions)
        // Each concept once, however often it occurs: a passage is about the things it names.
        let concepts = Set(words(of: text).filter { !stopwords.contains($0) }.map(concept(of:)))
        for concept in concepts {
            for seed in [0x811c_9dc5, 0x0100_0193] as [UInt32] {
                let hash = fnv1a(concept, seed: seed)
                let index = Int(hash % UInt32(dimensions))
                vector[index] += (hash >> 31) == 0 ? 1 : -1
            }
        }
        let length = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard length > 0 else {
            // No word at all: a fixed direction, so every text has one.
            vector[0] = 1
            return vector
        }
        return vector.map { $0 / length }
    }

    static func words(of text: String) -> [String] {
        text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init).filter { $0.count > 1 }
    }

    /// The word's concept: its synonym group's name, else its stem.
    static func concept(of word: String) -> String {
        let stem = stem(word)
        return synonyms[stem] ?? stem
    }

    /// English suffixes off; a Cyrillic word's first five letters.
    static func stem(_ word: String) -> String {
        if word.unicodeScalars.contains(where: { (0x0400...0x04FF).contains($0.value) }) {
            return String(word.prefix(5))
        }
        for suffix in ["ations", "ation", "ings", "ing", "ies", "es", "ed", "ly", "s"] where word.hasSuffix(suffix) && word.count > suffix.count + 2 {
            return String(word.dropLast(suffix.count))
        }
        return word
    }

    private static let groups: [String: [String]] = [
        "end": ["end", "terminat", "termin", "cancel", "cancell", "rescind", "quit", "расто", "прекр"],
        "penalty": ["penalt", "penalty", "fine", "sanction", "forfeit", "штраф", "неуст", "пеня"],
        "pay": ["pay", "salary", "salari", "wage", "compensat", "remunerat", "зарпл", "оклад"],
        "vehicle": ["car", "vehicle", "vehicl", "automobile", "automobil"],
        "doctor": ["doctor", "physician"],
        "buy": ["buy", "purchas", "purchase", "acquir", "acquire"],
        "start": ["start", "begin", "commenc", "commence"],
        "price": ["price", "pric", "cost", "fee", "charg", "charge"],
        "home": ["house", "hous", "home", "residence", "dwell"],
        "notice": ["notice", "notic", "notif", "notification", "warn"],
    ]

    private static let synonyms: [String: String] = {
        var map: [String: String] = [:]
        for (concept, words) in groups { for word in words { map[word] = concept } }
        return map
    }()

    private static let stopwords: Set<String> = [
        "the", "a", "an", "of", "to", "in", "on", "for", "and", "or", "is", "are", "be", "by", "at", "it", "its", "this", "that",
        "what", "which", "who", "when", "how", "does", "do", "with", "as", "from", "was", "were", "will", "shall", "may", "can",
        "и", "в", "на", "по", "с", "не", "что", "как", "это", "за", "от", "до", "ли", "какой", "какая", "каков",
    ]

    private static func fnv1a(_ text: String, seed: UInt32) -> UInt32 {
        var hash = seed
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }
}
