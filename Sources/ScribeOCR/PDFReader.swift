import ScribeDocuments
/// Reads a PDF with poppler's command-line tools (`pdfinfo`, `pdftotext`,
/// `pdfimages`, `pdftoppm` from poppler-utils): the text layer first, and OCR
/// only for pages that have none (scans).
///
/// A scanned page that is one full-page raster image is recognised from
/// that image, extracted as stored (a JPEG's own bytes, anything else as
/// lossless PNG) at its native resolution: rendering a 150 ppi scan at 300
/// dpi is a blurry 2× upsample. Every other scanned page is rendered at
/// ``OCRConfiguration/pdfRenderDPI``.
///
/// Every tool runs through swift-subprocess (asynchronously, no thread is
/// blocked) and is killed when it exceeds the page time budget.
struct PDFReader: Sendable {
    let pool: OCREnginePool
    let configuration: OCRConfiguration

    func read(_ bytes: [UInt8], progress: ReadingProgress? = nil) async throws(OCRError) -> RecognisedDocument {
        let file = try TemporaryFile(contents: bytes)
        defer { file.remove() }
        return try await read(path: file.path, survey: try await survey(file.path), progress: progress)
    }

    /// Reads the PDF at `path`, already surveyed.
    func read(
        path: String,
        survey: (info: PageInfo, textLayer: [String], scannedPages: [Int]),
        progress: ReadingProgress?
    ) async throws(OCRError) -> RecognisedDocument {
        let (info, textLayer, scannedPages) = survey
        // Pages with a text layer are read already; each scanned page counts as it is recognised.
        let alreadyRead = info.pageCount - scannedPages.count
        await progress?(alreadyRead, info.pageCount)
        let recognised = try await recognise(scannedPages, of: path, info: info) { recognisedSoFar in
            await progress?(alreadyRead + recognisedSoFar, info.pageCount)
        }

        var texts: [String] = []
        var readings: [PageReading] = []
        for number in 1...info.pageCount {
            if var page = recognised[number] {
                page.reading.number = number
                texts.append(page.text)
                readings.append(page.reading)
            } else {
                texts.append(textLayer[number - 1])
                readings.append(PageReading(number: number, source: .textLayer))
            }
        }
        let text = texts.map(\.trimmedWhitespace).filter { !$0.isEmpty }.joined(separator: "\n\n")
        return RecognisedDocument(text: text, pages: readings, pageTexts: texts.map(\.trimmedWhitespace))
    }

    // MARK: - Steps

    /// The page count and sizes, each page's text layer, and the pages with
    /// none (scans), of the PDF at `path`.
    func survey(_ path: String) async throws(OCRError) -> (info: PageInfo, textLayer: [String], scannedPages: [Int]) {
        let info = try await pageInfo(path)
        let textLayer = try await extractText(path, pageCount: info.pageCount)
        return (info, textLayer, (1...info.pageCount).filter { textLayer[$0 - 1].trimmedWhitespace.isEmpty })
    }

    /// What `pdfinfo` says: the page count, and each page's size in points.
    struct PageInfo: Sendable {
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
    private func recognise(
        _ pages: [Int],
        of path: String,
        info: PageInfo,
        recognised: @Sendable (_ count: Int) async -> Void
    ) async throws(OCRError) -> [Int: RecognisedPage] {
        guard !pages.isEmpty else { return [:] }
        let width = max(1, pool.configuration.engineCount)
        return try await withTaskGroup(of: (Int, Result<RecognisedPage, OCRError>).self) { group in
            var waiting = pages[...]
            var texts: [Int: RecognisedPage] = [:]
            for _ in 0..<min(width, waiting.count) {
                let page = waiting.removeFirst()
                group.addTask { (page, await self.recognisePage(page, of: path, info: info)) }
            }
            while let (page, result) = await group.next() {
                switch result {
                case .success(let text):
                    texts[page] = text
                    await recognised(texts.count)
                case .failure(let error):
                    group.cancelAll()
                    return Result<[Int: RecognisedPage], OCRError>.failure(error)
                }
                if let next = waiting.popFirst() {
                    group.addTask { (next, await self.recognisePage(next, of: path, info: info)) }
                }
            }
            return .success(texts)
        }.get()
    }

    /// Recognises one scanned page: from its one full-page image when it has
    /// one that decodes, else from a rendering.
    func recognisePage(_ page: Int, of path: String, info: PageInfo) async -> Result<RecognisedPage, OCRError> {
        do throws(OCRError) {
            let size = info.pageSizes[page] ?? (width: 612, height: 792)
            if let scan = await fullPageScan(page: page, of: path, size: size),
               let image = await extractImage(page: page, of: path) {
                do {
                    return .success(try await pool.recognize(imageBytes: image, sourceResolution: scan.ppi))
                } catch where error.kind == .unreadableImage {
                    // An encoding Leptonica cannot decode (a CMYK JPEG, say): render the page instead.
                }
            }
            let dpi = try renderDPI(page: page, width: size.width, height: size.height)
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

    /// One image as `pdfimages -list` describes it.
    struct ListedImage: Equatable {
        /// `image`, `mask`, `smask` or `stencil`.
        var type: String
        var width: Int
        var height: Int
        var xPPI: Int
        var yPPI: Int
    }

    /// The page's scan when the page is exactly one raster image covering it
    /// (within 3 % each way, either way round) at an even, credible resolution
    /// and within the pixel limit; else `nil`.
    private func fullPageScan(page: Int, of path: String, size: (width: Double, height: Double)) async -> (image: ListedImage, ppi: Int)? {
        guard let output = try? await runTool(
            "pdfimages", ["-list", "-f", "\(page)", "-l", "\(page)", path],
            outputLimit: 1024 * 1024,
            failure: OCRError(.invalidPDF, "")
        ) else { return nil }
        let images = Self.parseImageList(String(decoding: output, as: UTF8.self))
        return Self.fullPageScan(images, pageWidth: size.width, pageHeight: size.height, pixelLimit: pool.configuration.maxPixelsPerImage)
    }

    static func fullPageScan(_ images: [ListedImage], pageWidth: Double, pageHeight: Double, pixelLimit: Int) -> (image: ListedImage, ppi: Int)? {
        guard images.count == 1, let image = images.first, image.type == "image",
              image.xPPI > 0, image.yPPI > 0,
              abs(image.xPPI - image.yPPI) * 50 <= max(image.xPPI, image.yPPI),
              (70...2400).contains(image.xPPI),
              image.width * image.height <= pixelLimit
        else { return nil }
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 0.03 * max(a, b) }
        let width = Double(image.width) / Double(image.xPPI) * 72
        let height = Double(image.height) / Double(image.yPPI) * 72
        let upright = close(width, pageWidth) && close(height, pageHeight)
        let sideways = close(width, pageHeight) && close(height, pageWidth)
        guard upright || sideways else { return nil }
        return (image, image.xPPI)
    }

    /// The page's image as stored: `pdfimages -j -png` writes a JPEG's own
    /// bytes and decodes anything else (Flate, CCITT, JBIG2, ...) to a
    /// lossless PNG, pixel for pixel. `nil` when the tool fails.
    private func extractImage(page: Int, of path: String) async -> [UInt8]? {
        guard let folder = try? TemporaryFolder() else { return nil }
        defer { folder.remove() }
        guard (try? await runTool(
            "pdfimages", ["-j", "-png", "-f", "\(page)", "-l", "\(page)", path, folder.path + "/page"],
            outputLimit: 64 * 1024,
            failure: OCRError(.invalidPDF, "")
        )) != nil else { return nil }
        let written = folder.files()
        guard written.count == 1 else { return nil }
        return folder.contents(of: written[0])
    }

    /// The dpi to render a scanned page at: ``OCRConfiguration/pdfRenderDPI``,
    /// lowered (down to 70) for pages too large for the pixel limit.
    private func renderDPI(page: Int, width: Double, height: Double) throws(OCRError) -> Int {
        let limit = pool.configuration.maxPixelsPerImage
        var dpi = configuration.pdfRenderDPI
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

    /// The rows of `pdfimages -list` (`page num type width height color comp
    /// bpc enc interp object ID x-ppi y-ppi size ratio`).
    static func parseImageList(_ text: String) -> [ListedImage] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 14, Int(fields[0]) != nil,
                  let width = Int(fields[3]), let height = Int(fields[4]),
                  let xPPI = Int(fields[12]), let yPPI = Int(fields[13])
            else { return nil }
            return ListedImage(type: String(fields[2]), width: width, height: height, xPPI: xPPI, yPPI: yPPI)
        }
    }
}
