import ScribeDocuments
import Testing

/// Pages split into overlapping passages whose places give back their text.
@Suite struct PassageSplitterTests {
    static func words(_ count: Int, prefix: String = "w") -> String {
        (1...count).map { "\(prefix)\($0)" }.joined(separator: " ")
    }

    @Test func aBlankPageHasNoPassages() {
        #expect(PassageSplitter().passages(of: "").isEmpty)
        #expect(PassageSplitter().passages(of: " \n\t ").isEmpty)
    }

    @Test func aShortPageIsOnePassage() {
        let text = "  Invoice INV-2024-0087\nTotal: 4411 EUR  "
        let passages = PassageSplitter().passages(of: text)
        #expect(passages.count == 1)
        #expect(passages.first?.body == "Invoice INV-2024-0087\nTotal: 4411 EUR")
        #expect(passages.first?.words == 5)
        #expect(passages.first?.start == 2)
    }

    @Test func aLongPageIsCutIntoOverlappingPassagesOfAtMostTheLimit() {
        let text = Self.words(400)
        let passages = PassageSplitter(wordsPerPassage: 150, overlapWords: 25).passages(of: text)
        #expect(passages.map(\.words) == [150, 150, 150])
        #expect(passages.map(\.ordinal) == [0, 1, 2])
        #expect(passages[0].body.hasPrefix("w1 ") && passages[0].body.hasSuffix(" w150"))
        #expect(passages[1].body.hasPrefix("w126 ") && passages[1].body.hasSuffix(" w275"))
        #expect(passages[2].body.hasPrefix("w251 ") && passages[2].body.hasSuffix(" w400"))
        // Every word is in some passage, the last one included.
        let covered = Set(passages.flatMap { $0.body.split(separator: " ").map(String.init) })
        #expect(covered.count == 400)
    }

    @Test("Places are in Unicode scalars, whatever the script", arguments: ["ü", "д", "🙂", "e\u{301}"])
    func placesAreScalarOffsets(letter: String) {
        // Words apart by spaces, line breaks and a double space, as OCR writes them.
        let text = (1...320).map { "\(letter)\($0)" + ["  ", "\n", " "][$0 % 3] }.joined()
        let scalars = Array(text.unicodeScalars)
        for passage in PassageSplitter().passages(of: text) {
            var slice = String.UnicodeScalarView()
            slice.append(contentsOf: scalars[passage.start..<passage.end])
            #expect(String(slice) == passage.body)
        }
    }
}
