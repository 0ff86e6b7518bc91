import ArgumentParser
import Foundation
import Logging
import ScribeDocuments
import ScribeOCR

/// `scribe ocr-bench`: reads files through Scribe's OCR engines, repeatedly,
/// and prints the throughput as one JSON line (used by `scripts/bench`).
struct OCRBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocr-bench",
        abstract: "Measure OCR throughput: read FILES --repeat times through a pool of --engines engines.",
        discussion: "Prints {\"pages\", \"seconds\", \"pages_per_second\"} as JSON; OCR_* variables apply."
    )

    @Option(name: .customLong("repeat"), help: "How many times each file is read.")
    var repetitions = 20

    @Option(help: "Engines in the pool (default: OCR_ENGINES or the number of cores).")
    var engines: Int?

    @Option(help: "A folder to write each file's recognised text to, as <file name>.txt.")
    var out: String?

    @Argument(help: "Image or PDF files.")
    var files: [String]

    func run() async throws {
        let runtime = try Runtime.load(label: "scribe.ocr-bench")
        var configuration = runtime.configuration.ocrEngines
        if let engines { configuration.engineCount = engines }
        let documents = try files.map { path -> (name: String, bytes: [UInt8], kind: DocumentKind) in
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            guard let kind = DocumentKind.sniff(bytes) else { throw StartupError("\(path) is not a file Scribe can read.") }
            return (URL(fileURLWithPath: path).lastPathComponent, bytes, kind)
        }
        let pool: OCREnginePool
        do {
            pool = try OCREnginePool(configuration: configuration, logger: runtime.logger)
        } catch {
            throw StartupError("Cannot start the OCR engines: \(error.message)")
        }
        let reader = DocumentReader(pool: pool, configuration: configuration)

        let started = ContinuousClock.now
        let results: [(index: Int, document: RecognisedDocument)]
        do {
            results = try await withThrowingTaskGroup(of: (Int, RecognisedDocument).self) { group in
                // The pool queues work beyond its engines, so all reads can be submitted at once.
                for _ in 0..<repetitions {
                    for (index, document) in documents.enumerated() {
                        group.addTask { (index, try await reader.read(document.bytes, kind: document.kind)) }
                    }
                }
                return try await group.reduce(into: []) { $0.append(($1.0, $1.1)) }
            }
        } catch {
            await pool.shutdown()
            throw error
        }
        let elapsed = ContinuousClock.now - started
        await pool.shutdown()

        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            for (index, document) in documents.enumerated() {
                guard let text = results.first(where: { $0.index == index })?.document.text else { continue }
                try text.write(toFile: "\(out)/\(document.name).txt", atomically: true, encoding: .utf8)
            }
        }
        let pages = results.reduce(0) { $0 + $1.document.pageCount }
        let seconds = elapsed / .seconds(1)
        print(#"{"pages": \#(pages), "seconds": \#(String(format: "%.3f", seconds)), "pages_per_second": \#(String(format: "%.3f", Double(pages) / seconds))}"#)
    }
}
