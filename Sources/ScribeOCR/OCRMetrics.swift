import ScribeDocuments
import Metrics

/// What the OCR engines record, through swift-metrics (the process chooses
/// the backend; with none bootstrapped it costs nothing):
///
/// - `scribe_ocr_pages_total{source}`: pages of the documents read, by where
///   their text came from (`ocr`, `text_layer`, `plain_text`).
/// - `scribe_ocr_page_duration_seconds`: how long an engine took over each
///   picture it recognised: decoding, straightening and cleaning it up,
///   recognition, and orientation detection when the page needed it.
struct OCRMetrics: Sendable {
    private let pages: [PageReading.Source: Counter]
    let pageDuration: Timer

    init(factory: any MetricsFactory) {
        var pages: [PageReading.Source: Counter] = [:]
        for source in [PageReading.Source.ocr, .textLayer, .plainText] {
            pages[source] = Counter(label: "scribe_ocr_pages_total", dimensions: [("source", source.rawValue)], factory: factory)
        }
        self.pages = pages
        pageDuration = Timer(label: "scribe_ocr_page_duration_seconds", factory: factory)
    }

    /// Counts the pages of a document that was read.
    func read(_ document: RecognisedDocument) {
        for page in document.pages { pages[page.source]?.increment() }
    }
}
