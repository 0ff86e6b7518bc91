import CTesseract
import Foundation
import ScribeDocuments
import ScribeOCR
import ScribeTestSupport
import Testing

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
