import ScribeDocuments
import CTesseract
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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
    /// Also requires the orientation data (`osd.traineddata`) beside them.
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
        // Orientation detection (psm 1) needs osd.traineddata; without it
        // Tesseract only prints a warning and reads pages on their side as garbage.
        let directory = TessBaseAPIGetDatapath(handle).map { String(cString: $0) } ?? ""
        guard FileManager.default.fileExists(atPath: directory + (directory.hasSuffix("/") ? "" : "/") + "osd.traineddata") else {
            TessBaseAPIEnd(handle)
            TessBaseAPIDelete(handle)
            throw OCRError(.engineUnavailable, "Tesseract's orientation data (osd.traineddata) is missing in \(directory); install it (tesseract-ocr-osd) so pages on their side or upside down can be read.")
        }
        TessBaseAPISetPageSegMode(handle, TessPageSegMode(rawValue: UInt32(psm)))
        self.handle = handle
    }

    deinit { end() }

    /// Decodes `bytes`, turns and cleans the picture up, recognises it and
    /// says what was done.
    ///
    /// The steps, each chosen by measurement over the fixtures and generated
    /// variants of them (see BENCHMARKS.md):
    /// 1. The EXIF orientation the caller read from a JPEG is applied
    ///    (Leptonica applies a TIFF's own while decoding).
    /// 2. The background is normalised (Leptonica's `pixBackgroundNormSimple`
    ///    on the grey picture): a page lit from one side reads as well as an
    ///    evenly lit one, and clean pages read the same as before.
    /// 3. Skew of 1° to 15° is measured and straightened; smaller skew is left
    ///    to Tesseract's own line finding (straightening it resampled the glyphs
    ///    for no gain).
    /// 4. The page is recognised upright. When the mean word confidence is
    ///    below ``orientationRetryConfidence`` (garbage from a page on its side
    ///    or upside down scores 37–51, clean pages 87–96), it is recognised
    ///    again with Tesseract's orientation and script detection (`psm 1`),
    ///    and the reading with the higher confidence is kept. Upright pages pay
    ///    nothing for detection; a page with too little text to decide keeps
    ///    its first reading.
    ///
    /// Blocking: call it only on a thread of the pool's `NIOThreadPool`. Every
    /// `Pix` lives only inside this call, and the engine is cleared afterwards.
    ///
    /// - Parameters:
    ///   - bytes: An encoded image in any format Leptonica reads.
    ///   - orientation: The EXIF orientation of a JPEG, if it has one.
    ///   - sourceResolution: The image's dpi when the caller knows it (a PDF
    ///     page's scan or rendering); else the image's own credible one, else 300.
    ///   - configuration: The pixel limit and time budget to enforce.
    func recognize(
        _ bytes: [UInt8],
        orientation: EXIFOrientation?,
        sourceResolution: Int?,
        configuration: OCRConfiguration
    ) throws(OCRError) -> RecognisedPage {
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

        var decoded = bytes.withUnsafeBufferPointer { pixReadMem($0.baseAddress, $0.count) }
        guard decoded != nil else {
            throw OCRError(.unreadableImage, "The image could not be decoded; it may be damaged, truncated or in an unsupported format.")
        }
        width = pixGetWidth(decoded)
        height = pixGetHeight(decoded)
        guard width > 0, height > 0 else {
            pixDestroy(&decoded)
            throw OCRError(.unreadableImage, "The image has no pixels.")
        }
        guard Int(width) * Int(height) <= configuration.maxPixelsPerImage else {
            pixDestroy(&decoded)
            throw .tooManyPixels(width: Int(width), height: Int(height), limit: configuration.maxPixelsPerImage)
        }
        let resolution = Self.resolution(known: sourceResolution, stated: Int(pixGetXRes(decoded)))
        let turned = Self.applying(orientation, to: &decoded)
        var page = Self.normalisingBackground(of: &decoded)
        defer { pixDestroy(&page) }
        // The page turned upright, when it is read a second time; released after the engine is cleared.
        var upright: UnsafeMutablePointer<PIX>?
        defer { pixDestroy(&upright) }
        let skew = Self.straighten(&page)

        let deadline = ContinuousClock.now + configuration.pageTimeBudget
        TessBaseAPISetImage2(handle, page)
        defer { TessBaseAPIClear(handle) }
        TessBaseAPISetSourceResolution(handle, Int32(resolution))

        let configured = configuration.pageSegmentationMode
        var reading = try read(handle, pageSegmentationMode: configured, until: deadline, budget: configuration.pageTimeBudget)
        if reading.confidence < Self.orientationRetryConfidence, reading.hasWords, configured != Int(PSM_AUTO_OSD.rawValue),
           let detected = try? read(handle, pageSegmentationMode: Int(PSM_AUTO_OSD.rawValue), until: deadline, budget: configuration.pageTimeBudget),
           detected.confidence > reading.confidence {
            // Garbage from a page on its side or upside down: orientation
            // detection (psm 1) finds which way the text runs. Its own layout
            // analysis reads a turned two-column receipt column by column, so
            // the page is then turned upright and read exactly as an upright
            // page is, with the configured layout analysis; that reading is
            // kept unless it is clearly worse. The extra readings share the
            // page's budget; if it runs out, the best so far stands.
            reading = detected
            if detected.rotation != 0, let rotated = pixRotateOrth(page, Int32(detected.rotation / 90)) {
                upright = rotated
                TessBaseAPISetImage2(handle, upright)
                TessBaseAPISetSourceResolution(handle, Int32(resolution))
                if var uprightReading = try? read(handle, pageSegmentationMode: configured, until: deadline, budget: configuration.pageTimeBudget),
                   uprightReading.confidence + Self.layoutPreference >= detected.confidence {
                    uprightReading.rotation = (uprightReading.rotation + detected.rotation) % 360
                    reading = uprightReading
                }
            }
        }
        return RecognisedPage(
            text: reading.text,
            reading: PageReading(
                number: 1, source: .ocr,
                rotation: (turned + reading.rotation) % 360,
                skew: skew, resolution: resolution, confidence: reading.confidence
            )
        )
    }

    /// Below this mean word confidence the upright reading is checked with
    /// orientation detection. Measured: clean pages 87–96 (a lamp-lit one
    /// 92 once normalised), pages on their side or upside down 37–51.
    static let orientationRetryConfidence = 70

    /// How many points of confidence a page turned upright and read with the
    /// configured layout analysis may lose to psm 1's reading and still be
    /// kept: its lines in reading order are worth more to the LLM.
    static let layoutPreference = 5

    /// One recognition of the image set on `handle`.
    private struct Reading {
        var text: String
        var confidence: Int
        /// Degrees clockwise Tesseract turned the text to read it.
        var rotation: Int
        var hasWords: Bool
    }

    private func read(_ handle: OpaquePointer, pageSegmentationMode: Int, until deadline: ContinuousClock.Instant, budget: Duration) throws(OCRError) -> Reading {
        TessBaseAPISetPageSegMode(handle, TessPageSegMode(rawValue: UInt32(pageSegmentationMode)))
        guard let monitor = TessMonitorCreate() else {
            throw OCRError(.engineUnavailable, "Tesseract could not create a progress monitor.")
        }
        defer { TessMonitorDelete(monitor) }
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else {
            throw OCRError(.timeout, "Recognising the page took longer than \(OCRError.describe(budget)).")
        }
        TessMonitorSetDeadlineMSecs(monitor, Int32(clamping: remaining.milliseconds))
        guard TessBaseAPIRecognize(handle, monitor) == 0 else {
            // Never call GetUTF8Text after a failed Recognize: it would
            // recognise again, without the deadline.
            if ContinuousClock.now >= deadline {
                throw OCRError(.timeout, "Recognising the page took longer than \(OCRError.describe(budget)).")
            }
            throw OCRError(.unreadableImage, "Tesseract could not recognise the image.")
        }
        var text = ""
        if let utf8 = TessBaseAPIGetUTF8Text(handle) {
            text = String(cString: utf8)
            TessDeleteText(utf8)
        }
        let hasWords = text.contains { !$0.isWhitespace }
        return Reading(
            text: text,
            confidence: hasWords ? Int(max(0, min(100, TessBaseAPIMeanTextConf(handle)))) : 0,
            rotation: hasWords ? Self.textRotation(handle) : 0,
            hasWords: hasWords
        )
    }

    /// How Tesseract found the first block's text lying: the degrees it
    /// turned it clockwise to read it. With orientation detection that is
    /// the block's orientation; without it, Tesseract still reads a page
    /// turned 90° clockwise as top-to-bottom lines, which for the left-to-right
    /// scripts Scribe reads means the page lies on its side.
    private static func textRotation(_ handle: OpaquePointer) -> Int {
        guard let results = TessBaseAPIGetIterator(handle) else { return 0 }
        defer { TessResultIteratorDelete(results) }
        guard let page = TessResultIteratorGetPageIterator(results) else { return 0 }
        var orientation = ORIENTATION_PAGE_UP
        var direction = WRITING_DIRECTION_LEFT_TO_RIGHT
        var order = TEXTLINE_ORDER_TOP_TO_BOTTOM
        var deskew: Float = 0
        TessPageIteratorOrientation(page, &orientation, &direction, &order, &deskew)
        switch orientation {
        case ORIENTATION_PAGE_RIGHT: return 270
        case ORIENTATION_PAGE_DOWN: return 180
        case ORIENTATION_PAGE_LEFT: return 90
        default: return direction == WRITING_DIRECTION_TOP_TO_BOTTOM ? 270 : 0
        }
    }

    // MARK: - Preparing the picture

    /// Applies a JPEG's EXIF orientation; returns the degrees turned clockwise.
    private static func applying(_ orientation: EXIFOrientation?, to pix: inout UnsafeMutablePointer<PIX>?) -> Int {
        guard let orientation, orientation != .up else { return 0 }
        if orientation.isMirrored {
            pixFlipLR(pix, pix)
        }
        let quarters = orientation.clockwiseQuarterTurns
        if quarters > 0, let turned = pixRotateOrth(pix, Int32(quarters)) {
            pixDestroy(&pix)
            pix = turned
        }
        return quarters * 90
    }

    /// The picture as 8-bit grey with its background evened out, or a 1-bit
    /// picture as it is. Consumes `pix`.
    private static func normalisingBackground(of pix: inout UnsafeMutablePointer<PIX>?) -> UnsafeMutablePointer<PIX>? {
        guard pixGetDepth(pix) != 1 else { return pix }
        defer { pixDestroy(&pix) }
        var grey = pixConvertTo8(pix, 0)
        guard grey != nil else { return pixClone(pix) }
        guard let normalised = pixBackgroundNormSimple(grey, nil, nil) else {
            return grey // too small to estimate a background: the grey picture as it is
        }
        pixDestroy(&grey)
        return normalised
    }

    /// Straightens a page skewed by 1°–15°; returns the degrees it was turned.
    ///
    /// Leptonica's own deskew wants a confidence of 3, which a page of three
    /// short lines never reaches (mixed_lowres skewed by 2.5–5°: the angle
    /// found within 0.2°, at confidence 2.0–2.8, and 80 % CER unstraightened).
    private static func straighten(_ pix: inout UnsafeMutablePointer<PIX>?) -> Double {
        var binary = pixGetDepth(pix) == 1 ? pixClone(pix) : pixConvertTo1(pix, 130)
        guard binary != nil else { return 0 }
        defer { pixDestroy(&binary) }
        var angle: Float = 0
        var confidence: Float = 0
        guard pixFindSkewSweepAndSearch(binary, &angle, &confidence, 4, 2, 15, 1, 0.01) == 0,
              abs(angle) >= 1, abs(angle) <= 15, confidence >= 2,
              let straight = pixRotate(pix, angle * .pi / 180, Int32(L_ROTATE_AREA_MAP), Int32(L_BRING_IN_WHITE), 0, 0)
        else { return 0 }
        pixDestroy(&pix)
        pix = straight
        return (Double(angle) * 10).rounded() / 10
    }

    /// Ends the engine and frees its memory. Safe to call more than once.
    func end() {
        guard let handle else { return }
        TessBaseAPIEnd(handle)
        TessBaseAPIDelete(handle)
        self.handle = nil
    }

    /// The caller's dpi when credible (70...2400, Tesseract's own bounds),
    /// else the image's own, else 300.
    static func resolution(known: Int?, stated: Int) -> Int {
        if let known, (70...2400).contains(known) { return known }
        if (70...2400).contains(stated) { return stated }
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
