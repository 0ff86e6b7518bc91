/// What a text looks like from the outside: its size and which alphabet and language it uses.
struct TextProfile {
    /// The writing system that dominates a text, by letter counts.
    enum Script: Equatable {
        case latin
        case cyrillic
        case mixed
        case none
    }

    /// Whitespace-separated tokens that contain a letter or digit.
    var wordCount: Int
    /// Lines that are not blank.
    var lineCount: Int
    /// Characters, as a person counts them.
    var characterCount: Int
    /// Letters from the Latin alphabets (ASCII and Latin-1/Extended-A/B).
    var latinLetters: Int
    /// Letters from the Cyrillic block.
    var cyrillicLetters: Int
    /// Latin-script words that are common English function words.
    var englishFunctionWords: Int
    /// Cyrillic-script words that are common Russian function words.
    var russianFunctionWords: Int

    init(_ text: String) {
        var words = 0
        var english = 0
        var russian = 0
        for token in text.split(whereSeparator: \.isWhitespace) {
            guard token.contains(where: { $0.isLetter || $0.isNumber }) else { continue }
            words += 1
            let bare = token.lowercased().trimmingCharacters(where: { !$0.isLetter && $0 != "'" })
            if Stopwords.english.contains(bare) {
                english += 1
            } else if Stopwords.russian.contains(bare) {
                russian += 1
            }
        }
        var latin = 0
        var cyrillic = 0
        for scalar in text.unicodeScalars where scalar.properties.isAlphabetic {
            switch scalar.value {
            case 0x41...0x5A, 0x61...0x7A, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x24F: latin += 1
            case 0x400...0x52F: cyrillic += 1
            default: break
            }
        }
        wordCount = words
        lineCount = text.split(whereSeparator: \.isNewline).filter { $0.contains(where: { !$0.isWhitespace }) }.count
        characterCount = text.count
        latinLetters = latin
        cyrillicLetters = cyrillic
        englishFunctionWords = english
        russianFunctionWords = russian
    }

    /// The dominant script: one alphabet with at least 85% of the Latin+Cyrillic letters,
    /// otherwise mixed.
    var script: Script {
        let total = latinLetters + cyrillicLetters
        guard total > 0 else { return .none }
        let cyrillicShare = Double(cyrillicLetters) / Double(total)
        if cyrillicShare >= 0.85 { return .cyrillic }
        if cyrillicShare <= 0.15 { return .latin }
        return .mixed
    }

    /// The script in two or three words, e.g. `Latin script`.
    var scriptName: String {
        switch script {
        case .latin: "Latin script"
        case .cyrillic: "Cyrillic script"
        case .mixed: "mixed Latin and Cyrillic script"
        case .none: "no Latin or Cyrillic letters"
        }
    }

    /// A readable line naming the script and the likely language, with the letter counts.
    var languageDescription: String {
        let counts = "\(latinLetters.grouped) Latin and \(cyrillicLetters.grouped) Cyrillic letters"
        switch script {
        case .latin:
            let language = englishFunctionWords > 0 ? "most likely English" : "language not identified"
            return "Latin script, \(language) (\(counts))."
        case .cyrillic:
            let language = russianFunctionWords > 0 ? "most likely Russian" : "language not identified"
            return "Cyrillic script, \(language) (\(counts))."
        case .mixed:
            return "mixed Latin and Cyrillic script, probably English and Russian together (\(counts))."
        case .none:
            return "no Latin or Cyrillic letters found."
        }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(where shouldTrim: (Character) -> Bool) -> String {
        var slice = self
        while let first = slice.first, shouldTrim(first) {
            slice.removeFirst()
        }
        while let last = slice.last, shouldTrim(last) {
            slice.removeLast()
        }
        return String(slice)
    }
}

extension String {
    fileprivate func trimmingCharacters(where shouldTrim: (Character) -> Bool) -> String {
        Substring(self).trimmingCharacters(where: shouldTrim)
    }
}
