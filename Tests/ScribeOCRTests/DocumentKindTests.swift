import CTesseract
import ScribeDocuments
import ScribeOCR
import ScribeTestSupport
import Testing

extension OCRTests {
    @Suite("Sniffing document kinds from magic bytes")
    struct DocumentKindTests {
        @Test("Fixtures sniff as their real kind", arguments: [
            ("invoice_en.png", DocumentKind.png), ("invoice_en_photo.jpg", .jpeg), ("letter_ru_text.pdf", .pdf),
            ("letter_ru.txt", .plainText),
        ])
        func fixtureSniffs(name: String, kind: DocumentKind) throws {
            #expect(DocumentKind.sniff(try Fixtures.bytes(name)) == kind)
        }

        @Test("Leptonica's encoders' output sniffs as the right kind", arguments: [
            (Int32(IFF_PNG), DocumentKind.png), (Int32(IFF_JFIF_JPEG), .jpeg), (Int32(IFF_TIFF_LZW), .tiff),
            (Int32(IFF_TIFF_G4), .tiff), (Int32(IFF_WEBP), .webp), (Int32(IFF_GIF), .gif), (Int32(IFF_BMP), .bmp),
        ])
        func encodedImageSniffs(format: Int32, kind: DocumentKind) throws {
            let depth: Int32 = format == IFF_TIFF_G4 ? 1 : 8 // G4 is bilevel only
            #expect(DocumentKind.sniff(try Images.blank(width: 16, height: 8, depth: depth, format: format)) == kind)
        }

        static let handWrittenHeaders: [([UInt8], DocumentKind)] = [
            (Array("MM\0*\0\0\0\u{8}".utf8), .tiff),
            (Array("GIF87a".utf8) + [1, 0, 1, 0], .gif),
            (Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8), .webp),
            (Array("%PDF-1.7\n".utf8), .pdf),
            (Array("Привет, мир!\n".utf8), .plainText),
            ([0xEF, 0xBB, 0xBF] + Array("with a byte order mark".utf8), .plainText),
        ]

        @Test("Hand-written headers sniff", arguments: handWrittenHeaders)
        func headerSniffs(bytes: [UInt8], kind: DocumentKind) {
            #expect(DocumentKind.sniff(bytes) == kind)
        }

        @Test("Empty, random and binary bytes are not a document")
        func garbageIsNothing() {
            #expect(DocumentKind.sniff([UInt8]()) == nil)
            #expect(DocumentKind.sniff(pseudoRandomBytes(count: 4096, seed: 42)) == nil)
            #expect(DocumentKind.sniff(Array("text\0with NUL".utf8)) == nil)
            #expect(DocumentKind.sniff([0xC3, 0x28, 0x41]) == nil, "invalid UTF-8")
            #expect(DocumentKind.sniff([UInt8](repeating: 0x01, count: 64) + Array("abc".utf8)) == nil, "control characters")
            #expect(DocumentKind.sniff(Array("RIFF\0\0\0\0WAVEfmt ".utf8)) == nil, "RIFF but not WebP")
        }

        @Test("Text that happens to start like a bitmap is text")
        func bmAtStartOfTextIsText() {
            #expect(DocumentKind.sniff(Array("BMW 320d, service due in May.".utf8)) == .plainText)
        }

        @Test("Media types")
        func mediaTypes() {
            #expect(DocumentKind.png.mediaType == "image/png")
            #expect(DocumentKind.jpeg.mediaType == "image/jpeg")
            #expect(DocumentKind.pdf.mediaType == "application/pdf")
            #expect(DocumentKind.plainText.mediaType == "text/plain")
            #expect(DocumentKind.allCases.allSatisfy { !$0.mediaType.isEmpty })
        }
    }
}
