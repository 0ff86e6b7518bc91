import ScribeDocuments
import ScribeTestSupport
@testable import ScribeOCR
import Testing

extension OCRTests {
    @Suite("PDF reading")
    struct PDFReaderTests {
        @Test("Text pages use the text layer, scanned and blank pages are OCRed, pages are joined by a blank line")
        func mixedPDF() async throws {
            let pdf = try PDFBuilder.make([
                .text("Quarterly report, page one."),
                .scan(fixture: "mixed_lowres.png", ppi: 150),
                .blank,
                .text("The end."),
            ])
            #expect(DocumentKind.sniff(pdf) == .pdf)
            let document = try await SharedPool.reader().read(pdf, kind: .pdf)
            #expect(document.pageCount == 4)
            #expect(document.ocrPageCount == 2)
            let parts = document.text.components(separatedBy: "\n\n")
            #expect(parts.first == "Quarterly report, page one.")
            #expect(parts.last == "The end.")
            let scanned = parts.dropFirst().dropLast().joined(separator: "\n\n")
            let expected = try Fixtures.expectedText(for: "mixed_lowres.png")
            let rate = characterErrorRate(expected: normaliseWhitespace(expected), actual: normaliseWhitespace(scanned))
            #expect(rate <= 0.02, "CER \(rate): \(scanned)")
        }

        @Test("A PDF whose only page is blank is an empty document")
        func blankPDF() async throws {
            let error = await #expect(throws: OCRError.self) {
                try await SharedPool.reader().read(PDFBuilder.make([.blank]), kind: .pdf)
            }
            #expect(error?.kind == .emptyDocument)
        }

        @Test("The page limit counts every page")
        func pageLimit() async throws {
            var configuration = SharedPool.configuration
            configuration.maxPagesPerPDF = 2
            let pdf = try PDFBuilder.make([.text("one"), .text("two"), .text("three")])
            let error = await #expect(throws: OCRError.self) {
                try await SharedPool.reader(configuration).read(pdf, kind: .pdf)
            }
            #expect(error?.message == "The PDF has 3 pages; the limit is 2.")
        }

        @Test("A poppler command over the time budget is killed")
        func popplerTimeout() async throws {
            var configuration = SharedPool.configuration
            configuration.pageTimeBudget = .milliseconds(1)
            let error = await #expect(throws: OCRError.self) {
                try await SharedPool.reader(configuration).read(Fixtures.bytes("letter_ru_text.pdf"), kind: .pdf)
            }
            #expect(error?.kind == .timeout)
            #expect(error?.message == "Reading the PDF with pdfinfo took longer than 1 ms.")
        }

        @Test("pdfinfo output gives the page count and sizes")
        func parsesPageInfo() {
            let info = PDFReader.parsePageInfo("""
                Producer:        test
                Pages:           2
                Encrypted:       no
                Page    1 size:  595.28 x 841.89 pts (A4)
                Page    1 rot:   0
                Page    2 size:  370.56 x 204.48 pts
                """)
            #expect(info.pageCount == 2)
            #expect(info.pageSizes[1]?.width == 595.28)
            #expect(info.pageSizes[2]?.height == 204.48)
        }

        @Test("pdfimages -list rows are read, and only one full-page image counts as the page's scan")
        func decidesWhatIsAFullPageScan() {
            let list = """
                page   num  type   width height color comp bpc  enc interp  object ID x-ppi y-ppi size ratio
                --------------------------------------------------------------------------------------------
                   1     0 image     100    50  rgb     3   8  jpeg   no         5  0    72    72 3.0K 3.2%
                   1     1 image    2480  3508  gray    1   8  image  no         7  0   300   299 1.2M  14%
                   1     2 smask    2480  3508  gray    1   8  image  no         8  0   300   300 1.2M  14%
                """
            let images = PDFReader.parseImageList(list)
            #expect(images.count == 3)
            #expect(images[1] == PDFReader.ListedImage(type: "image", width: 2480, height: 3508, xPPI: 300, yPPI: 299))
            #expect(PDFReader.parseImageList("").isEmpty)

            let a4 = (width: 595.28, height: 841.89)
            let limit = 40_000_000
            // One A4 scan at 300 ppi: its own resolution.
            #expect(PDFReader.fullPageScan([images[1]], pageWidth: a4.width, pageHeight: a4.height, pixelLimit: limit)?.ppi == 300)
            // The same scan placed sideways (a page with /Rotate, or a landscape scan on a portrait page).
            #expect(PDFReader.fullPageScan([images[1]], pageWidth: a4.height, pageHeight: a4.width, pixelLimit: limit) != nil)
            // Two images, an image with a soft mask, a logo, a stretched image, too many pixels: rendered instead.
            #expect(PDFReader.fullPageScan(Array(images[1...2]), pageWidth: a4.width, pageHeight: a4.height, pixelLimit: limit) == nil)
            #expect(PDFReader.fullPageScan([images[0]], pageWidth: a4.width, pageHeight: a4.height, pixelLimit: limit) == nil)
            let stretched = PDFReader.ListedImage(type: "image", width: 2480, height: 1754, xPPI: 300, yPPI: 150)
            #expect(PDFReader.fullPageScan([stretched], pageWidth: a4.width, pageHeight: a4.height, pixelLimit: limit) == nil)
            #expect(PDFReader.fullPageScan([images[1]], pageWidth: a4.width, pageHeight: a4.height, pixelLimit: 1_000_000) == nil)
        }
    }
}
