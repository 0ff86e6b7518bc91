/// The text read from a document, and how it was obtained.
public struct RecognisedDocument: Sendable, Equatable {
    /// The document's text; PDF pages are separated by a blank line.
    public var text: String
    /// How each page was read, in page order.
    public var pages: [PageReading]
    /// Each page's own text, in page order (one per entry of ``pages``): what
    /// retrieval splits into passages, so an answer can name its page.
    public var pageTexts: [String]

    /// The number of pages in the document (1 for an image or a text file).
    public var pageCount: Int { pages.count }
    /// How many of those pages went through OCR (0 for text and text-layer PDF pages).
    public var ocrPageCount: Int { pages.count { $0.source == .ocr } }

    /// Creates a result. A one-page document's page text is its text.
    public init(text: String, pages: [PageReading], pageTexts: [String]? = nil) {
        precondition(pageTexts == nil || pageTexts?.count == pages.count, "one text per page")
        self.text = text
        self.pages = pages
        self.pageTexts = pageTexts ?? (pages.count == 1 ? [text] : Array(repeating: "", count: pages.count))
    }
}

extension RecognisedDocument {
    /// A plain-text file as a document: its UTF-8 text without a byte-order
    /// mark. Needs no OCR engine, so the API can read it at upload.
    public static func plainText(_ bytes: some Collection<UInt8>) -> RecognisedDocument {
        var text = String(decoding: bytes, as: UTF8.self)
        if text.first == "\u{FEFF}" { text.removeFirst() }
        return RecognisedDocument(text: text, pages: [PageReading(number: 1, source: .plainText)])
    }
}

extension String {
    /// Whether the string has nothing but whitespace.
    public var isBlank: Bool { allSatisfy(\.isWhitespace) }

    /// The string without leading and trailing whitespace and newlines.
    public var trimmedWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}
