import ScribeDocuments
import ScribeOCR
import ScribeTestSupport
import Testing

extension OCRTests {
    @Suite("Hostile and degenerate input")
    struct HostileInputTests {
        @Test("A truncated PNG is an unreadable image")
        func truncatedPNG() async throws {
            let png = try Fixtures.bytes("invoice_en.png")
            let truncated = Array(png.prefix(png.count / 2))
            #expect(DocumentKind.sniff(truncated) == .png)
            let error = await #expect(throws: OCRError.self) {
                try await SharedPool.reader().read(truncated, kind: .png)
            }
            #expect(error?.kind == .unreadableImage)
            #expect(error?.isPermanent == true)
        }

        @Test("Random bytes declared as an image are an unreadable image")
        func randomBytesAsImage() async throws {
            let error = await #expect(throws: OCRError.self) {
                try await SharedPool.reader().read(pseudoRandomBytes(count: 2048, seed: 7), kind: .jpeg)
            }
            #expect(error?.kind == .unreadableImage)
        }

        @Test("An image over the pixel limit is refused, with its size in the message")
        func tooManyPixelsFromConfiguration() async throws {
            let error = try await withPool(OCRConfiguration(engineCount: 1, maxPixelsPerImage: 10_000)) { pool in
                await #expect(throws: OCRError.self) {
                    try await DocumentReader(pool: pool, configuration: pool.configuration)
                        .read(Fixtures.bytes("invoice_en.png"), kind: .png)
                }
            }
            #expect(error?.kind == .tooManyPixels)
            #expect(error?.message == "The image is 772×426 pixels; the limit is 10000 pixels.")
        }

        @Test("A huge image is refused from its header, before it is decoded")
        func hugeImage() async throws {
            let png = try Images.huge(width: 9000, height: 6000)
            let error = await #expect(throws: OCRError.self) {
                try await SharedPool.reader().read(png, kind: .png)
            }
            #expect(error?.kind == .tooManyPixels)
            #expect(error?.message == "The image is 9000×6000 pixels; the limit is 40 megapixels.")
        }

        @Test("A PDF over the page limit is refused before rendering")
        func tooManyPages() async throws {
            var configuration = SharedPool.configuration
            configuration.maxPagesPerPDF = 0
            let error = await #expect(throws: OCRError.self) {
                try await SharedPool.reader(configuration).read(Fixtures.bytes("invoice_en_scan.pdf"), kind: .pdf)
            }
            #expect(error?.kind == .tooManyPages)
            #expect(error?.message == "The PDF has 1 page; the limit is 0.")
        }

        @Test("Garbage behind a PDF header is an invalid PDF")
        func garbagePDF() async throws {
            let bytes = Array("%PDF-1.4\n".utf8) + pseudoRandomBytes(count: 4096, seed: 99)
            #expect(DocumentKind.sniff(bytes) == .pdf)
            let error = await #expect(throws: OCRError.self) {
                try await SharedPool.reader().read(bytes, kind: .pdf)
            }
            #expect(error?.kind == .invalidPDF)
        }

        @Test("A blank white image is an empty document")
        func blankImage() async throws {
            let png = try Images.blank(width: 800, height: 600)
            let error = await #expect(throws: OCRError.self) {
                try await SharedPool.reader().read(png, kind: .png)
            }
            #expect(error?.kind == .emptyDocument)
            #expect(error?.message == "No text was found in the file.")
        }

        @Test("Whitespace-only text is an empty document; other text passes through")
        func plainText() async throws {
            let reader = try SharedPool.reader()
            let error = await #expect(throws: OCRError.self) {
                try await reader.read(Array(" \n\t \n".utf8), kind: .plainText)
            }
            #expect(error?.kind == .emptyDocument)
            let text = try await reader.read(Array("Привет\nworld".utf8), kind: .plainText)
            #expect(text == RecognisedDocument(text: "Привет\nworld", pages: [PageReading(number: 1, source: .plainText)]))
        }

        @Test("A page over its time budget times out")
        func timeout() async throws {
            let error = try await withPool(OCRConfiguration(engineCount: 1, pageTimeBudget: .milliseconds(1))) { pool in
                await #expect(throws: OCRError.self) {
                    try await pool.recognize(imageBytes: Fixtures.bytes("noisy_skewed.png"))
                }
            }
            #expect(error?.kind == .timeout)
            #expect(error?.isPermanent == true)
        }
    }
}
