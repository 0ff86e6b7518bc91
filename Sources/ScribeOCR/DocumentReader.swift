import ScribeDocuments

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
    let pool: OCREnginePool
    let configuration: OCRConfiguration

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
            document = RecognisedDocument.plainText(bytes)
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
