/// Reads a PDF with poppler's command-line tools (`pdfinfo`, `pdftotext`,
/// `pdfimages`, `pdftoppm` from poppler-utils): the text layer first, and OCR
/// only for pages that have none (scans).
///
/// Every tool runs through swift-subprocess (asynchronously, no thread is
/// blocked) and is killed when it exceeds the page time budget.
struct PDFReader: Sendable {
    let pool: OCREnginePool
    let configuration: OCRConfiguration

    func read(_ bytes: [UInt8]) async throws(OCRError) -> RecognisedDocument {
        let file = try TemporaryFile(contents: bytes)
        defer { file.remove() }

        let info = try await pageInfo(file.path)
        let textLayer = try await extractText(file.path, pageCount: info.pageCount)
        let scannedPages = (1...info.pageCount).filter { textLayer[$0 - 1].trimmedWhitespace.isEmpty }
        let recognised = try await recognise(scannedPages, of: file.path, info: info)

        let pages = (1...info.pageCount).map { recognised[$0] ?? textLayer[$0 - 1] }
        let text = pages.map(\.trimmedWhitespace).filter { !$0.isEmpty }.joined(separator: "\n\n")
        return RecognisedDocument(text: text, pageCount: info.pageCount, ocrPageCount: scannedPages.count)
    }

    // MARK: - Steps

    /// What `pdfinfo` says: the page count, and each page's size in points.
    struct PageInfo {
        var pageCount: Int
        var pageSizes: [Int: (width: Double, height: Double)]
    }

    /// Runs `pdfinfo`, refusing unreadable PDFs and PDFs over the page limit
    /// before anything is rendered.
    private func pageInfo(_ path: String) async throws(OCRError) -> PageInfo {
        let limit = configuration.maxPagesPerPDF
        let output = try await runTool(
            "pdfinfo", ["-f", "1", "-l", "\(max(1, limit))", path],
            outputLimit: 64 * 1024 + 128 * max(1, limit),
            failure: OCRError(.invalidPDF, "The file is not a readable PDF; it may be damaged or protected by a password.")
        )
        let info = Self.parsePageInfo(String(decoding: output, as: UTF8.self))
        guard info.pageCount > 0 else {
            throw OCRError(.invalidPDF, "The PDF has no pages.")
        }
        guard info.pageCount <= limit else {
            let pages = info.pageCount == 1 ? "1 page" : "\(info.pageCount) pages"
            throw OCRError(.tooManyPages, "The PDF has \(pages); the limit is \(limit).")
        }
        return info
    }

    /// Runs `pdftotext` once for the whole file and splits it into pages on form feeds.
    private func extractText(_ path: String, pageCount: Int) async throws(OCRError) -> [String] {
        let output = try await runTool(
            "pdftotext", ["-enc", "UTF-8", "-f", "1", "-l", "\(pageCount)", path, "-"],
            outputLimit: 64 * 1024 + 512 * 1024 * pageCount,
            failure: OCRError(.invalidPDF, "The text of the PDF could not be extracted; it may be damaged.")
        )
        var pages = String(decoding: output, as: UTF8.self)
            .split(separator: "\u{0C}", omittingEmptySubsequences: false)
            .prefix(pageCount)
            .map(String.init)
        while pages.count < pageCount { pages.append("") }
        return pages
    }

    /// OCRs the scanned pages, at most as many at once as the pool has engines,
    /// so rendering the next page overlaps recognising the current one.
    private func recognise(_ pages: [Int], of path: String, info: PageInfo) async throws(OCRError) -> [Int: String] {
        guard !pages.isEmpty else { return [:] }
        let width = max(1, pool.configuration.engineCount)
        return try await withTaskGroup(of: (Int, Result<String, OCRError>).self) { group in
            var waiting = pages[...]
            var texts: [Int: String] = [:]
            for _ in 0..<min(width, waiting.count) {
                let page = waiting.removeFirst()
                group.addTask { (page, await self.recognisePage(page, of: path, info: info)) }
            }
            while let (page, result) = await group.next() {
                switch result {
                case .success(let text):
                    texts[page] = text
                case .failure(let error):
                    group.cancelAll()
                    return Result<[Int: String], OCRError>.failure(error)
                }
                if let next = waiting.popFirst() {
                    group.addTask { (next, await self.recognisePage(next, of: path, info: info)) }
                }
            }
            return .success(texts)
        }.get()
    }

    /// Renders one page to an 8-bit grey PGM with `pdftoppm` (3–4× faster than
    /// PNG) and recognises it, telling Tesseract the rendering dpi.
    private func recognisePage(_ page: Int, of path: String, info: PageInfo) async -> Result<String, OCRError> {
        do throws(OCRError) {
            let size = info.pageSizes[page] ?? (width: 612, height: 792)
            let native = await scanResolution(page: page, of: path)
            let dpi = try renderDPI(page: page, width: size.width, height: size.height, scanResolution: native)
            let pixels = Self.pixels(points: size.width, dpi: dpi) * Self.pixels(points: size.height, dpi: dpi)
            let image = try await runTool(
                "pdftoppm", ["-r", "\(dpi)", "-gray", "-f", "\(page)", "-l", "\(page)", path],
                outputLimit: pixels + 1024,
                failure: OCRError(.invalidPDF, "Page \(page) of the PDF could not be rendered; it may be damaged.")
            )
            return .success(try await pool.recognize(imageBytes: image, sourceResolution: dpi))
        } catch {
            return .failure(error)
        }
    }

    /// The resolution of the largest image on the page (the scan), from
    /// `pdfimages -list`, or `nil` when the page has none or the tool fails.
    private func scanResolution(page: Int, of path: String) async -> Int? {
        guard let output = try? await runTool(
            "pdfimages", ["-list", "-f", "\(page)", "-l", "\(page)", path],
            outputLimit: 1024 * 1024,
            failure: OCRError(.invalidPDF, "")
        ) else { return nil }
        return Self.parseScanResolution(String(decoding: output, as: UTF8.self))
    }

    /// The dpi to render a scanned page at.
    ///
    /// A scan is rendered at its own resolution when that is below
    /// ``OCRConfiguration/pdfRenderDPI``: resampling it up only blurs it
    /// (measured on the fixtures as 100–150 ppi scans: up to 7 % CER when
    /// rendered at 300 dpi, 0 % at their own resolution). Pages without a scan use
    /// `pdfRenderDPI`. Pages too large for the pixel limit are rendered at
    /// a lower dpi, down to 70.
    private func renderDPI(page: Int, width: Double, height: Double, scanResolution: Int?) throws(OCRError) -> Int {
        let limit = pool.configuration.maxPixelsPerImage
        var dpi = configuration.pdfRenderDPI
        if let scanResolution { dpi = min(dpi, max(70, scanResolution)) }
        if Self.pixels(points: width, dpi: dpi) * Self.pixels(points: height, dpi: dpi) > limit {
            dpi = Int((Double(limit) / (width * height)).squareRoot() * 72) - 1
        }
        guard dpi >= 70 else {
            let (w, h) = (Self.pixels(points: width, dpi: 70), Self.pixels(points: height, dpi: 70))
            throw OCRError(.tooManyPixels, "Page \(page) of the PDF is \(w)×\(h) pixels even at 70 dpi; the limit is \(OCRError.describePixels(limit)).")
        }
        return dpi
    }

    /// Pixels along an edge of `points` (1/72 inch) at `dpi`, rounded up with a pixel to spare.
    private static func pixels(points: Double, dpi: Int) -> Int {
        Int((points * Double(dpi) / 72).rounded(.up)) + 1
    }

    // MARK: - Parsing

    /// Reads `Pages:` and `Page    N size: W x H pts` lines.
    static func parsePageInfo(_ text: String) -> PageInfo {
        var info = PageInfo(pageCount: 0, pageSizes: [:])
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, fields[0] == "Pages:", let count = Int(fields[1]) {
                info.pageCount = count
            } else if fields.count >= 6, fields[0] == "Page", fields[2] == "size:",
                      let page = Int(fields[1]), let width = Double(fields[3]), fields[4] == "x",
                      let height = Double(fields[5]) {
                info.pageSizes[page] = (width, height)
            }
        }
        return info
    }

    /// From `pdfimages -list` rows (`page num type width height color comp
    /// bpc enc interp object ID x-ppi y-ppi size ratio`), the lower ppi of
    /// the image with the most pixels.
    static func parseScanResolution(_ text: String) -> Int? {
        var best: (pixels: Int, ppi: Int)?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 14, Int(fields[0]) != nil, fields[2] == "image",
                  let width = Int(fields[3]), let height = Int(fields[4]),
                  let xPPI = Int(fields[12]), let yPPI = Int(fields[13]), min(xPPI, yPPI) > 0
            else { continue }
            if width * height > best?.pixels ?? 0 {
                best = (width * height, min(xPPI, yPPI))
            }
        }
        return best?.ppi
    }
}
