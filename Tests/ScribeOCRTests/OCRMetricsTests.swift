import ScribeDocuments
import ScribeOCR
import ScribeTestSupport
import Testing

extension OCRTests {
    @Suite("OCR metrics")
    struct OCRMetricsTests {
        @Test("Pages are counted by where their text came from, and each recognised picture is timed")
        func pagesAndSecondsPerPage() async throws {
            let metrics = TestMetrics()
            let configuration = OCRConfiguration(languages: "eng+rus", engineCount: 1)
            let pool = try OCREnginePool(configuration: configuration, metricsFactory: metrics.factory)
            do {
                let reader = DocumentReader(pool: pool, configuration: configuration)
                _ = try await reader.read(Fixtures.bytes("mixed_lowres.png"), kind: .png)
                _ = try await reader.read(PDFBuilder.make([.text("one"), .text("two")]), kind: .pdf)
                // A file with no text counts no page: it was not read.
                _ = try? await reader.read(PDFBuilder.make([.blank]), kind: .pdf)
            } catch {
                await pool.shutdown()
                throw error
            }
            await pool.shutdown()

            let samples = metrics.samples
            #expect(samples.value("scribe_ocr_pages_total", ["source": "ocr"]) == 1, "\(samples)")
            #expect(samples.value("scribe_ocr_pages_total", ["source": "text_layer"]) == 2)
            #expect(samples.value("scribe_ocr_pages_total", ["source": "plain_text"]) == 0)
            // The picture, and the blank page's render: each went through an engine.
            let timed = try #require(samples.value("scribe_ocr_page_duration_seconds_count"))
            #expect(timed >= 1)
            #expect(samples.value("scribe_ocr_page_duration_seconds_sum").map { $0 > 0 } == true)
        }
    }
}
