import CTesseract

/// One initialised Tesseract engine (a `TessBaseAPI` handle) and the unsafe
/// C calls that drive it. Only ``OCREnginePool`` creates and uses these.
///
/// `@unchecked Sendable` because the handle is not thread-safe. Confinement
/// is what makes it safe: an engine is used only while it is checked out of
/// the pool's `EngineCheckout`, by the single `NIOThreadPool` work item that
/// holds it, and ``end()`` runs only once every engine has been returned.
/// It never touches shared state besides its own handle.
final class TesseractEngine: @unchecked Sendable {
    /// A small number naming this engine in logs.
    let id: Int
    private var handle: OpaquePointer?

    /// Creates a Tesseract engine and loads the configured languages (OEM default).
    ///
    /// Fails when a language's `.traineddata` is missing: Tesseract loads the
    /// languages it can find and only prints the others to standard error, so
    /// the loaded set is compared with the requested one.
    init(id: Int, configuration: OCRConfiguration) throws(OCRError) {
        self.id = id
        let psm = configuration.pageSegmentationMode
        guard psm >= 0, psm < Int(PSM_COUNT.rawValue) else {
            throw OCRError(.engineUnavailable, "Page segmentation mode \(psm) is not one Tesseract knows (0–\(PSM_COUNT.rawValue - 1)).")
        }
        guard let handle = TessBaseAPICreate() else {
            throw OCRError(.engineUnavailable, "Tesseract could not create an engine.")
        }
        let requested = configuration.languages.split(separator: "+").map(String.init)
        let status: Int32 = configuration.languages.withCString { languages in
            guard let path = configuration.tessdataPath else {
                return TessBaseAPIInit3(handle, nil, languages)
            }
            return path.withCString { TessBaseAPIInit3(handle, $0, languages) }
        }
        let loaded = status == 0 ? Self.loadedLanguages(handle) : []
        let missing = requested.filter { !loaded.contains($0) }
        guard status == 0, !requested.isEmpty, missing.isEmpty else {
            TessBaseAPIEnd(handle)
            TessBaseAPIDelete(handle)
            let location = configuration.tessdataPath.map { "in \($0)" } ?? "in the default tessdata directory"
            let names = missing.isEmpty ? configuration.languages : missing.joined(separator: ", ")
            throw OCRError(.engineUnavailable, "Tesseract could not load the language data for \(names) \(location); install it (e.g. tesseract-ocr-\(missing.first ?? "eng")) or set tessdataPath.")
        }
        TessBaseAPISetPageSegMode(handle, TessPageSegMode(rawValue: UInt32(psm)))
        self.handle = handle
    }

    deinit { end() }

    /// Decodes `bytes` into a Leptonica `Pix`, recognises it and returns the UTF-8 text.
    ///
    /// Blocking: call it only on a thread of the pool's `NIOThreadPool`. The
    /// `Pix` lives only inside this call, and the engine is cleared afterwards.
    ///
    /// - Parameters:
    ///   - bytes: An encoded image in any format Leptonica reads.
    ///   - sourceResolution: The caller's idea of the image's dpi, used when
    ///     the image does not state a credible one itself; 300 when `nil`.
    ///   - configuration: The pixel limit and time budget to enforce.
    func recognize(_ bytes: [UInt8], sourceResolution: Int?, configuration: OCRConfiguration) throws(OCRError) -> String {
        guard let handle else {
            throw OCRError(.engineUnavailable, "The OCR engine has been shut down.")
        }
        guard !bytes.isEmpty else {
            throw OCRError(.unreadableImage, "The image file is empty.")
        }
        // Refuse oversized images from the header alone, before decoding
        // (a small compressed file can expand to gigabytes).
        var width: Int32 = 0
        var height: Int32 = 0
        var format: Int32 = 0
        let headerRead = bytes.withUnsafeBufferPointer {
            pixReadHeaderMem($0.baseAddress, $0.count, &format, &width, &height, nil, nil, nil) == 0
        }
        if headerRead, Int(width) * Int(height) > configuration.maxPixelsPerImage {
            throw .tooManyPixels(width: Int(width), height: Int(height), limit: configuration.maxPixelsPerImage)
        }

        var pix = bytes.withUnsafeBufferPointer { pixReadMem($0.baseAddress, $0.count) }
        guard pix != nil else {
            throw OCRError(.unreadableImage, "The image could not be decoded; it may be damaged, truncated or in an unsupported format.")
        }
        defer { pixDestroy(&pix) }
        width = pixGetWidth(pix)
        height = pixGetHeight(pix)
        guard width > 0, height > 0 else {
            throw OCRError(.unreadableImage, "The image has no pixels.")
        }
        guard Int(width) * Int(height) <= configuration.maxPixelsPerImage else {
            throw .tooManyPixels(width: Int(width), height: Int(height), limit: configuration.maxPixelsPerImage)
        }

        TessBaseAPISetPageSegMode(handle, TessPageSegMode(rawValue: UInt32(configuration.pageSegmentationMode)))
        TessBaseAPISetImage2(handle, pix)
        defer { TessBaseAPIClear(handle) }
        TessBaseAPISetSourceResolution(handle, Int32(Self.resolution(stated: Int(pixGetXRes(pix)), fallback: sourceResolution)))

        guard let monitor = TessMonitorCreate() else {
            throw OCRError(.engineUnavailable, "Tesseract could not create a progress monitor.")
        }
        defer { TessMonitorDelete(monitor) }
        let budget = configuration.pageTimeBudget
        TessMonitorSetDeadlineMSecs(monitor, Int32(clamping: budget.milliseconds))
        let started = ContinuousClock.now
        guard TessBaseAPIRecognize(handle, monitor) == 0 else {
            // Never call GetUTF8Text after a failed Recognize: it would
            // recognise again, without the deadline.
            if ContinuousClock.now - started >= budget {
                throw OCRError(.timeout, "Recognising the page took longer than \(OCRError.describe(budget)).")
            }
            throw OCRError(.unreadableImage, "Tesseract could not recognise the image.")
        }
        guard let text = TessBaseAPIGetUTF8Text(handle) else { return "" }
        defer { TessDeleteText(text) }
        return String(cString: text)
    }

    /// Ends the engine and frees its memory. Safe to call more than once.
    func end() {
        guard let handle else { return }
        TessBaseAPIEnd(handle)
        TessBaseAPIDelete(handle)
        self.handle = nil
    }

    /// The image's own dpi when credible (70...2400, Tesseract's own bounds),
    /// else the caller's, else 300.
    static func resolution(stated: Int, fallback: Int?) -> Int {
        if (70...2400).contains(stated) { return stated }
        if let fallback, (70...2400).contains(fallback) { return fallback }
        return 300
    }

    private static func loadedLanguages(_ handle: OpaquePointer) -> Set<String> {
        guard let list = TessBaseAPIGetLoadedLanguagesAsVector(handle) else { return [] }
        defer { TessDeleteTextArray(list) }
        var languages: Set<String> = []
        var index = 0
        while let name = list[index] {
            languages.insert(String(cString: name))
            index += 1
        }
        return languages
    }
}
