import ScribeDocuments
import NIOCore

/// How Scribe runs OCR: languages, engine count and the limits that keep one
/// hostile or huge upload from starving a worker.
public struct OCRConfiguration: Sendable {
    /// Tesseract language codes joined with `+`, e.g. `"eng+rus"`.
    /// Each needs its `.traineddata` (Debian: `tesseract-ocr-eng`, `tesseract-ocr-rus`).
    public var languages: String
    /// The directory holding the `.traineddata` files, or `nil` for the library's default.
    public var tessdataPath: String?
    /// How many Tesseract engines (and threads) the pool runs; at least 1.
    public var engineCount: Int
    /// Tesseract's page segmentation mode. 3 (fully automatic, the CLI's
    /// default) is set explicitly because the C API's default is 6 (one block).
    public var pageSegmentationMode: Int
    /// The largest image, in pixels (width × height), that is decoded and recognised.
    public var maxPixelsPerImage: Int
    /// The most pages a PDF may have; larger PDFs are refused before any page is rendered.
    public var maxPagesPerPDF: Int
    /// How long one page may take: Tesseract's recognition deadline, and the
    /// bound on each poppler command.
    public var pageTimeBudget: Duration
    /// The resolution, in dots per inch, at which scanned PDF pages are rendered
    /// for OCR. A scan whose own resolution is lower is rendered at that
    /// resolution instead (at least 70), because resampling it up blurs it.
    public var pdfRenderDPI: Int
    /// The nice value (0–19) of the OCR threads: how much lower their CPU
    /// priority is than the rest of the process (request handling, LLM
    /// I/O, the queue's heartbeat) and than an API beside them on the box.
    public var threadNiceness: Int

    /// Creates a configuration; every parameter has a production default.
    ///
    /// - Parameters:
    ///   - languages: Tesseract languages, default `"eng+rus"`.
    ///   - tessdataPath: Where the language data lives; `nil` uses the library default.
    ///   - engineCount: Engines in the pool; defaults to the number of cores.
    ///   - pageSegmentationMode: Default 3 (automatic page segmentation).
    ///   - maxPixelsPerImage: Default 40 megapixels.
    ///   - maxPagesPerPDF: Default 1000 pages.
    ///   - pageTimeBudget: Default 60 seconds per page.
    ///   - pdfRenderDPI: Default 300 dpi.
    ///   - threadNiceness: Default 10.
    public init(
        languages: String = "eng+rus",
        tessdataPath: String? = nil,
        engineCount: Int = System.coreCount,
        pageSegmentationMode: Int = 3,
        maxPixelsPerImage: Int = 40_000_000,
        maxPagesPerPDF: Int = 1000,
        pageTimeBudget: Duration = .seconds(60),
        pdfRenderDPI: Int = 300,
        threadNiceness: Int = 10
    ) {
        self.languages = languages
        self.tessdataPath = tessdataPath
        self.engineCount = engineCount
        self.pageSegmentationMode = pageSegmentationMode
        self.maxPixelsPerImage = maxPixelsPerImage
        self.maxPagesPerPDF = maxPagesPerPDF
        self.pageTimeBudget = pageTimeBudget
        self.pdfRenderDPI = pdfRenderDPI
        self.threadNiceness = min(19, max(0, threadNiceness))
    }
}
