import CTesseract
import ScribeOCR
import ScribeTestSupport
import Testing

extension OCRTests {
    @Suite("Fixture accuracy (eng+rus, psm 3)")
    struct FixtureAccuracyTests {
        @Test("The fixtures are present")
        func fixturesArePresent() {
            #expect(Fixtures.documents.count >= 7, "No fixtures in \(Fixtures.directory.path); set SCRIBE_FIXTURES")
        }

        @Test("Each fixture reads with a character error rate of at most 2 %", arguments: Fixtures.documents)
        func fixtureReadsAccurately(name: String) async throws {
            let bytes = try Fixtures.bytes(name)
            let kind = try #require(DocumentKind.sniff(bytes))
            let document = try await SharedPool.reader().read(bytes, kind: kind)
            try expectAccurate(document.text, comparedWith: Fixtures.expectedText(for: name), label: name)
            #expect(document.pageCount == 1)
        }

        @Test("Other image formats decode and read as accurately", arguments: [
            (DocumentKind.tiff, Int32(IFF_TIFF_LZW)), (.webp, Int32(IFF_WEBP)), (.gif, Int32(IFF_GIF)), (.bmp, Int32(IFF_BMP)),
        ])
        func otherFormatReadsAccurately(kind: DocumentKind, format: Int32) async throws {
            let bytes = try Images.reencode("letter_ru.png", format: format)
            #expect(DocumentKind.sniff(bytes) == kind)
            let document = try await SharedPool.reader().read(bytes, kind: kind)
            try expectAccurate(document.text, comparedWith: Fixtures.expectedText(for: "letter_ru.png"), label: "letter_ru.\(kind)")
        }

        @Test("A PDF's text layer is used as is; only scanned pages are OCRed")
        func pdfUsesTextLayerFirst() async throws {
            let reader = try SharedPool.reader()
            let text = try await reader.read(Fixtures.bytes("letter_ru_text.pdf"), kind: .pdf)
            #expect(text.pageCount == 1)
            #expect(text.ocrPageCount == 0)
            let scan = try await reader.read(Fixtures.bytes("invoice_en_scan.pdf"), kind: .pdf)
            #expect(scan.pageCount == 1)
            #expect(scan.ocrPageCount == 1)
        }

        private func expectAccurate(_ actual: String, comparedWith expected: String, label: String) throws {
            let rate = characterErrorRate(expected: normaliseWhitespace(expected), actual: normaliseWhitespace(actual))
            print("CER \(label): \(String(format: "%.2f", rate * 100)) %")
            #expect(rate <= 0.02, "CER \(rate) for \(label); got: \(normaliseWhitespace(actual))")
            if containsCyrillic(expected) {
                #expect(containsCyrillic(actual), "\(label) should come out in Cyrillic")
            }
        }
    }
}
