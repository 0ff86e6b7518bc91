import ScribeDocuments

/// A PDF on disk, surveyed: its page count, each page's text layer, and which
/// pages are scans that need OCR. What the file flow needs to read a long
/// document page by page across workers: each scanned page is handed out as a
/// one-page PDF of its own, read later by ``DocumentReader/readPDFPage(_:)``.
/// A short one is read whole with ``DocumentReader/read(_:progress:)``.
public struct SurveyedPDF: Sendable {
    /// The number of pages (at most ``OCRConfiguration/maxPagesPerPDF``).
    public let pageCount: Int
    /// Each page's text layer, page 1 first; empty for a scanned page.
    public let textLayer: [String]
    /// The pages without a text layer, in order: they need OCR.
    public let scannedPages: [Int]
    /// The file, which the caller owns.
    let path: String
    let info: PDFReader.PageInfo
    let reader: PDFReader

    /// How many pages ``eachScannedPage(_:)`` splits off at once: the most
    /// one-page files on disk at a time.
    static let splitRange = 25

    /// Hands each scanned page to `body` as a one-page PDF (`pdfseparate`,
    /// which keeps the page's images as they are stored), in page order and one
    /// at a time, so memory holds one page whatever the document's length.
    public func eachScannedPage(_ body: (_ page: Int, _ bytes: [UInt8]) async throws -> Void) async throws {
        var start = 0
        while start < scannedPages.count {
            let first = scannedPages[start]
            var end = start
            while end + 1 < scannedPages.count, scannedPages[end + 1] - first < Self.splitRange { end += 1 }
            let last = scannedPages[end]
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            _ = try await reader.runTool(
                "pdfseparate", ["-f", "\(first)", "-l", "\(last)", path, folder.path + "/page-%d.pdf"],
                outputLimit: 64 * 1024,
                failure: OCRError(.invalidPDF, "Pages \(first)–\(last) of the PDF could not be separated; it may be damaged.")
            )
            for page in scannedPages[start...end] {
                guard let bytes = folder.contents(of: "page-\(page).pdf") else {
                    throw OCRError(.invalidPDF, "Page \(page) of the PDF could not be separated; it may be damaged.")
                }
                try await body(page, bytes)
            }
            start = end + 1
        }
    }

}

extension DocumentReader {
    /// Surveys the PDF at `path` (`pdfinfo`, `pdftotext`): refused when it is
    /// unreadable or has more pages than the limit, before anything is rendered.
    public func surveyPDF(atPath path: String) async throws(OCRError) -> SurveyedPDF {
        let reader = PDFReader(pool: pool, configuration: configuration)
        let survey = try await reader.survey(path)
        return SurveyedPDF(
            pageCount: survey.info.pageCount, textLayer: survey.textLayer, scannedPages: survey.scannedPages,
            path: path, info: survey.info, reader: reader
        )
    }

    /// Reads a surveyed PDF whole: its text layer, and OCR for its scanned pages.
    /// - Throws: ``OCRError``; ``OCRError/Kind/emptyDocument`` when no text is found.
    public func read(_ pdf: SurveyedPDF, progress: ReadingProgress? = nil) async throws(OCRError) -> RecognisedDocument {
        let document = try await pdf.reader.read(
            path: pdf.path, survey: (pdf.info, pdf.textLayer, pdf.scannedPages), progress: progress
        )
        guard !document.text.trimmedWhitespace.isEmpty else { throw .empty }
        pool.metrics.read(document)
        return document
    }

    /// Reads a one-page PDF (a page ``SurveyedPDF/eachScannedPage(_:)`` split
    /// off) as a scanned page is read within its document: from its full-page
    /// image at the image's own resolution when it has one, else rendered.
    /// The reading's `number` is 1: the caller knows the page's place.
    public func readPDFPage(_ bytes: [UInt8]) async throws(OCRError) -> RecognisedPage {
        let reader = PDFReader(pool: pool, configuration: configuration)
        let file = try TemporaryFile(contents: bytes)
        defer { file.remove() }
        let survey = try await reader.survey(file.path)
        guard survey.info.pageCount == 1 else {
            throw OCRError(.invalidPDF, "A page of the PDF was split off as \(survey.info.pageCount) pages.")
        }
        let page = try await reader.recognisePage(1, of: file.path, info: survey.info).get()
        pool.metrics.read(RecognisedDocument(text: page.text, pages: [page.reading]))
        return page
    }
}
