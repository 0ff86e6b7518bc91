import CTesseract
import Foundation
import ScribeOCR
import Testing

/// Where the fixtures are, and what they should read as.
enum Fixtures {
    /// `SCRIBE_FIXTURES` if set; else `<package root>/../shared/fixtures/ocr`
    /// (this file lives at `<root>/Tests/ScribeOCRTests/`); else the nearest
    /// ancestor of the root holding `shared/fixtures/ocr`.
    static let directory: URL = {
        if let path = ProcessInfo.processInfo.environment["SCRIBE_FIXTURES"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent()
        let conventional = root.appendingPathComponent("../shared/fixtures/ocr").standardizedFileURL
        var candidate = root
        while !isDirectory(conventional), candidate.pathComponents.count > 1 {
            candidate = candidate.deletingLastPathComponent()
            let nested = candidate.appendingPathComponent("shared/fixtures/ocr")
            if isDirectory(nested) { return nested }
        }
        return conventional
    }()

    /// The file names of every image and PDF fixture, e.g. `letter_ru.png`.
    static let documents: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { ["png", "jpg", "jpeg", "pdf"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
    }()

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// The expected text for a fixture: `NAME.txt` next to `NAME.ext`.
    static func expectedText(for name: String) throws -> String {
        let base = (name as NSString).deletingPathExtension
        return try String(contentsOf: directory.appendingPathComponent(base + ".txt"), encoding: .utf8)
    }

    private static func isDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// The root suite: every other suite is nested in it, so they all share one
/// engine pool that is started once and shut down when the run ends.
@Suite(.sharedEnginePool)
struct OCRTests {}

/// The pool shared by the tests that use default limits.
enum SharedPool {
    static let configuration = OCRConfiguration(languages: "eng+rus", engineCount: 2)
    @TaskLocal static var current: OCREnginePool?

    static func pool() throws -> OCREnginePool {
        try #require(current, "Run inside OCRTests, which provides the shared pool")
    }

    static func reader(_ configuration: OCRConfiguration = configuration) throws -> DocumentReader {
        DocumentReader(pool: try pool(), configuration: configuration)
    }
}

/// Starts the shared pool around the whole `OCRTests` suite and shuts it down afterwards.
struct SharedEnginePoolTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let pool = try OCREnginePool(configuration: SharedPool.configuration)
        do {
            try await SharedPool.$current.withValue(pool) { try await function() }
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
    }
}

extension Trait where Self == SharedEnginePoolTrait {
    static var sharedEnginePool: Self { Self() }
}

/// Runs `body` with a pool of its own and always shuts it down.
func withPool<T>(_ configuration: OCRConfiguration, _ body: (OCREnginePool) async throws -> T) async throws -> T {
    let pool = try OCREnginePool(configuration: configuration)
    do {
        let result = try await body(pool)
        await pool.shutdown()
        return result
    } catch {
        await pool.shutdown()
        throw error
    }
}

/// Collapses every run of whitespace to one space and trims the ends.
func normaliseWhitespace(_ text: String) -> String {
    text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
}

/// Character error rate: Levenshtein distance over Unicode scalars divided by the expected length.
func characterErrorRate(expected: String, actual: String) -> Double {
    let e = Array(expected.unicodeScalars)
    let a = Array(actual.unicodeScalars)
    guard !e.isEmpty else { return a.isEmpty ? 0 : 1 }
    var previous = Array(0...a.count)
    var current = [Int](repeating: 0, count: a.count + 1)
    for i in 1...e.count {
        current[0] = i
        for j in stride(from: 1, through: a.count, by: 1) {
            let substitution = previous[j - 1] + (e[i - 1] == a[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return Double(previous[a.count]) / Double(e.count)
}

func containsCyrillic(_ text: String) -> Bool {
    text.unicodeScalars.contains { (0x0400...0x04FF).contains($0.value) }
}

/// Deterministic pseudo-random bytes (SplitMix64), so failures reproduce.
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt8(truncatingIfNeeded: z ^ (z >> 31))
    }
}

/// Encoded images made with Leptonica, for formats without a fixture.
enum Images {
    /// A fixture re-encoded in another format (`IFF_WEBP`, `IFF_GIF`, ...).
    static func reencode(_ name: String, format: Int32) throws -> [UInt8] {
        let source = try Fixtures.bytes(name)
        var pix = source.withUnsafeBufferPointer { pixReadMem($0.baseAddress, $0.count) }
        defer { pixDestroy(&pix) }
        return try #require(encode(pix, format: format))
    }

    /// A blank image: white at 8 bits, all zero (white in Leptonica's 1-bit convention) at 1 bit.
    static func blank(width: Int32, height: Int32, depth: Int32 = 8, format: Int32 = Int32(IFF_PNG)) throws -> [UInt8] {
        var pix = pixCreate(width, height, depth)
        defer { pixDestroy(&pix) }
        if depth > 1 { pixSetAll(pix) }
        return try #require(encode(pix, format: format))
    }

    /// A white 1-bit image: huge in pixels, tiny as a PNG.
    static func huge(width: Int32, height: Int32) throws -> [UInt8] {
        var pix = pixCreate(width, height, 1)
        defer { pixDestroy(&pix) }
        return try #require(encode(pix, format: Int32(IFF_PNG)))
    }

    private static func encode(_ pix: UnsafeMutablePointer<PIX>?, format: Int32) -> [UInt8]? {
        var data: UnsafeMutablePointer<UInt8>?
        var size = 0
        guard pixWriteMem(&data, &size, pix, format) == 0, let data else { return nil }
        defer { free(data) }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }
}
