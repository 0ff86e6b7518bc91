import CTesseract
import ScribeDocuments
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

        @Test("The scan fixtures are present")
        func scansArePresent() {
            #expect(Fixtures.scans.count >= 5, "No scan fixtures in \(Fixtures.scanDirectory.path)")
        }

        /// How each fixture's pages must have been read: degrees turned
        /// clockwise, and the resolution (a scanned PDF's own).
        static let expectedPages: [String: [(rotation: Int, dpi: Int?)]] = [
            "invoice_en_scan.pdf": [(0, 150)],
            "letter_ru_text.pdf": [(0, nil)],
            "invoice_rot90.png": [(90, 300)],
            "letter_rot180.png": [(180, 300)],
            "invoice_exif8.jpg": [(270, 300)],
            "twopage_scan.pdf": [(0, 150), (180, 150)],
        ]

        @Test("Each fixture reads with a character error rate of at most 2 %, upright, at its own resolution",
              arguments: Fixtures.documents + Fixtures.scans)
        func fixtureReadsAccurately(name: String) async throws {
            let bytes = try Fixtures.bytes(name)
            let kind = try #require(DocumentKind.sniff(bytes))
            let document = try await SharedPool.reader().read(bytes, kind: kind)
            try expectAccurate(document.text, comparedWith: Fixtures.expectedText(for: name), label: name)
            let expected = Self.expectedPages[name] ?? [(0, 300)]
            #expect(document.pages.map(\.number) == Array(1...expected.count))
            for (page, (rotation, dpi)) in zip(document.pages, expected) {
                #expect(page.rotation == rotation, "\(name) page \(page.number): \(page)")
                #expect(page.resolution == dpi, "\(name) page \(page.number): \(page)")
                if page.source == .ocr {
                    #expect((PageReading.lowConfidence...100).contains(page.confidence ?? -1), "\(name) page \(page.number): \(page)")
                    #expect(page.warning == nil)
                }
            }
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
            #expect(text.pages == [PageReading(number: 1, source: .textLayer)])
            #expect(scan.pages.first?.source == .ocr)
        }

        func expectAccurate(_ actual: String, comparedWith expected: String, label: String) throws {
            let rate = characterErrorRate(expected: normaliseWhitespace(expected), actual: normaliseWhitespace(actual))
            print("CER \(label): \(String(format: "%.2f", rate * 100)) %")
            #expect(rate <= 0.02, "CER \(rate) for \(label); got: \(normaliseWhitespace(actual))")
            if containsCyrillic(expected) {
                #expect(containsCyrillic(actual), "\(label) should come out in Cyrillic")
            }
        }
    }
}
