import ScribeDocuments
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import NIOPosix

/// A fixed set of Tesseract engines, created once and reused for every image.
///
/// Each recognition checks out a free engine (waiting asynchronously when all
/// are busy), runs the blocking Tesseract work on the pool's own
/// `NIOThreadPool` (one thread per engine), and returns the engine. Loading
/// the language data happens once per engine, never per image, and no
/// process is ever started for OCR.
///
/// Debian's Tesseract is built with OpenMP, which oversubscribes the cores
/// when several engines run at once: start the process with
/// `OMP_THREAD_LIMIT=1` in its environment (Scribe's scripts do; measured
/// here: a dense page went from ~9 s to ~5.2 s). Do not `setenv` it from
/// Swift: libgomp reads the variable when the library loads, before `main`.
///
/// Call ``shutdown()`` before the last reference goes away: it ends the
/// engines and stops the threads (NIO traps in debug builds on a thread pool
/// that was never shut down).
public final class OCREnginePool: Sendable {
    /// The configuration the engines were created with; its limits apply to every image.
    public let configuration: OCRConfiguration
    private let checkout: EngineCheckout
    private let threadPool: NIOThreadPool
    private let logger: Logger
    let metrics: OCRMetrics

    /// Creates and initialises `configuration.engineCount` engines (at least one).
    ///
    /// This blocks while the language data loads (a fraction of a second per
    /// engine), so call it once at start-up.
    ///
    /// - Parameters:
    ///   - configuration: Languages, engine count and limits.
    ///   - logger: Receives engine start-up and per-image timing at debug level; never text or bytes.
    ///   - metricsFactory: Where pages and seconds per page are recorded (``OCRMetrics``):
    ///     the process's bootstrapped backend unless a test passes its own.
    /// - Throws: ``OCRError/Kind/engineUnavailable`` when the language data is
    ///   missing or the configuration is not usable.
    public init(
        configuration: OCRConfiguration = OCRConfiguration(),
        logger: Logger = Logger(label: "scribe.ocr"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(OCRError) {
        guard configuration.maxPixelsPerImage > 0 else {
            throw OCRError(.engineUnavailable, "maxPixelsPerImage must be positive.")
        }
        let count = max(1, configuration.engineCount)
        var engines: [TesseractEngine] = []
        do throws(OCRError) {
            for id in 0..<count {
                engines.append(try TesseractEngine(id: id, configuration: configuration))
            }
        } catch {
            for engine in engines { engine.end() }
            logger.error("OCR engines failed to start", metadata: ["error": "\(error)"])
            throw error
        }
        self.configuration = configuration
        self.checkout = EngineCheckout(engines: engines)
        self.threadPool = NIOThreadPool(numberOfThreads: count)
        self.logger = logger
        self.metrics = OCRMetrics(factory: metricsFactory)
        threadPool.start()
        logger.info("OCR engines started", metadata: ["engines": "\(count)", "languages": "\(configuration.languages)"])
    }

    /// Recognises the text in one encoded image, turned upright first.
    ///
    /// The image is decoded inside the engine's thread, refused if it has
    /// more than ``OCRConfiguration/maxPixelsPerImage`` pixels, and given up on
    /// after ``OCRConfiguration/pageTimeBudget``. Text may be empty (a blank
    /// page is not an error here).
    ///
    /// - Parameters:
    ///   - imageBytes: An encoded image in any format Leptonica reads (PNG, JPEG, TIFF, WebP, GIF, BMP, PNM).
    ///   - orientation: A JPEG's EXIF orientation (``EXIFOrientation/init(jpeg:)``), applied before anything else.
    ///   - sourceResolution: The image's dpi if the caller knows it (a PDF
    ///     page's scan or its rendering); it wins over the dpi the image
    ///     states (a camera JPEG often says 72), and 300 is used when neither is known.
    /// - Returns: The recognised text and how the page was read (its number is 1).
    public func recognize(imageBytes: [UInt8], orientation: EXIFOrientation? = nil, sourceResolution: Int? = nil) async throws(OCRError) -> RecognisedPage {
        let engine = try await checkout.acquire()
        defer { checkout.release(engine) }
        let configuration = self.configuration
        let started = ContinuousClock.now
        do {
            let page = try await threadPool.runIfActive {
                Self.lowerThreadPriority(to: configuration.threadNiceness)
                return try engine.recognize(imageBytes, orientation: orientation, sourceResolution: sourceResolution, configuration: configuration)
            }
            let duration = ContinuousClock.now - started
            metrics.pageDuration.record(duration: duration)
            logger.debug("OCR finished", metadata: [
                "engine": "\(engine.id)", "bytes": "\(imageBytes.count)",
                "characters": "\(page.text.count)", "rotation": "\(page.reading.rotation)",
                "confidence": "\(page.reading.confidence ?? 0)", "duration": "\(duration)",
            ])
            return page
        } catch let error as OCRError {
            logger.debug("OCR failed", metadata: ["engine": "\(engine.id)", "error": "\(error)"])
            throw error
        } catch {
            throw OCRError(.engineUnavailable, "The OCR threads are not running.")
        }
    }

    /// Gives the calling thread (one of the pool's) the nice value `niceness`,
    /// so OCR yields the cores to request handling. On Linux the nice value
    /// belongs to the thread, and `PRIO_PROCESS` with id 0 means the calling
    /// thread only. Raising it needs no privilege; the threads do nothing but
    /// OCR, so it is never lowered again.
    private static func lowerThreadPriority(to niceness: Int) {
        #if os(Linux)
        guard niceness > 0 else { return }
        errno = 0
        let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        guard errno == 0, current < Int32(niceness) else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Int32(niceness))
        #endif
    }

    /// Waits for in-flight recognitions, ends every engine and stops the threads.
    ///
    /// Requests waiting for an engine fail with ``OCRError/Kind/engineUnavailable``,
    /// as does every later ``recognize(imageBytes:orientation:sourceResolution:)``.
    /// Calling it again does nothing.
    public func shutdown() async {
        let engines = await checkout.close()
        guard !engines.isEmpty else { return }
        for engine in engines { engine.end() }
        do {
            try await threadPool.shutdownGracefully()
        } catch {
            logger.warning("OCR thread pool did not shut down cleanly", metadata: ["error": "\(error)"])
        }
        logger.info("OCR engines stopped", metadata: ["engines": "\(engines.count)"])
    }
}
