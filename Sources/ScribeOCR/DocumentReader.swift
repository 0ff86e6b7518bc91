/// The text read from a document, and how it was obtained.
public struct RecognisedDocument: Sendable, Equatable {
    /// The document's text; PDF pages are separated by a blank line.
    public var text: String
    /// How each page was read, in page order.
    public var pages: [PageReading]

    /// The number of pages in the document (1 for an image or a text file).
    public var pageCount: Int { pages.count }
    /// How many of those pages went through OCR (0 for text and text-layer PDF pages).
    public var ocrPageCount: Int { pages.count { $0.source == .ocr } }

    /// Creates a result.
    public init(text: String, pages: [PageReading]) {
        self.text = text
        self.pages = pages
    }
}

/// The text of one picture and how it was read.
public struct RecognisedPage: Sendable, Equatable {
    /// The recognised UTF-8 text, as Tesseract lays it out (may be empty).
    public var text: String
    /// What was done to read it; its `number` is 1 until the caller places it in a document.
    public var reading: PageReading
}

/// Told, while a document is read, how many of its pages are read so far and how many it has.
public typealias ReadingProgress = @Sendable (_ pagesRead: Int, _ pageCount: Int) async -> Void

/// Turns an uploaded file into text: OCR for images, the text layer (and OCR
/// for scanned pages) for PDFs, and a pass-through for plain text.
public struct DocumentReader: Sendable {
    private let pool: OCREnginePool
    private let configuration: OCRConfiguration

    /// Creates a reader.
    ///
    /// - Parameters:
    ///   - pool: The engines that recognise images and scanned pages.
    ///   - configuration: The PDF limits (pages, dpi, time budget) to apply;
    ///     image limits are the pool's own. Usually `pool.configuration`.
    public init(pool: OCREnginePool, configuration: OCRConfiguration) {
        self.pool = pool
        self.configuration = configuration
    }

    /// Reads the text of a document.
    ///
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - kind: The file's kind, from ``DocumentKind/sniff(_:)`` (never from a declared content type).
    ///   - progress: Told how many pages of how many are read, as a PDF's pages are.
    /// - Returns: The text and page counts.
    /// - Throws: ``OCRError``; ``OCRError/Kind/emptyDocument`` when no text is found.
    public func read(_ bytes: [UInt8], kind: DocumentKind, progress: ReadingProgress? = nil) async throws(OCRError) -> RecognisedDocument {
        let document: RecognisedDocument
        switch kind {
        case .plainText:
            document = Self.plainText(bytes)
        case .pdf:
            document = try await PDFReader(pool: pool, configuration: configuration).read(bytes, progress: progress)
        case .png, .jpeg, .tiff, .webp, .gif, .bmp:
            // Leptonica applies a TIFF's orientation tag itself; a JPEG's EXIF it ignores.
            let orientation = kind == .jpeg ? EXIFOrientation(jpeg: bytes) : nil
            let page = try await pool.recognize(imageBytes: bytes, orientation: orientation)
            document = RecognisedDocument(text: page.text.trimmedWhitespace, pages: [page.reading])
        }
        guard !document.text.trimmedWhitespace.isEmpty else { throw .empty }
        pool.metrics.read(document)
        return document
    }
}

extension DocumentReader {
    /// A plain-text file as a document: its UTF-8 text without a byte-order
    /// mark. Needs no engine, so the API can read it at upload.
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
    var trimmedWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}
