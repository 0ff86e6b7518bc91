import Foundation

/// Where the fixtures are, and what they should read as.
public enum Fixtures {
    /// `SCRIBE_FIXTURES` if set; else `Tests/Fixtures/ocr` of this package
    /// (this file lives at `<root>/Tests/ScribeTestSupport/`). The fixtures
    /// are part of the repository: a clone needs nothing beside it.
    public static let directory: URL = {
        if let path = ProcessInfo.processInfo.environment["SCRIBE_FIXTURES"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Fixtures/ocr")
    }()

    /// The pages as people send them, beside the clean ones: rotated,
    /// EXIF-sideways, scanned PDFs, uneven light (`<fixtures>/scans`).
    public static let scanDirectory: URL = directory.deletingLastPathComponent().appendingPathComponent("scans")

    /// The file names of every clean image and PDF fixture, e.g. `letter_ru.png`.
    public static let documents: [String] = documents(in: directory)

    /// The file names of every scan fixture, e.g. `invoice_rot90.png`.
    public static let scans: [String] = documents(in: scanDirectory)

    /// A fixture's bytes, from the clean fixtures or else the scans.
    public static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(of: name)))
    }

    /// The expected text for a fixture: `NAME.txt` next to `NAME.ext` (a
    /// PDF's pages joined by a line break).
    public static func expectedText(for name: String) throws -> String {
        let base = (name as NSString).deletingPathExtension
        return try String(contentsOf: url(of: name).deletingLastPathComponent().appendingPathComponent(base + ".txt"), encoding: .utf8)
    }

    private static func url(of name: String) -> URL {
        let clean = directory.appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: clean.path) ? clean : scanDirectory.appendingPathComponent(name)
    }

    private static func documents(in folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { ["png", "jpg", "jpeg", "tif", "tiff", "pdf"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
    }

}

/// Collapses every run of whitespace to one space and trims the ends.
public func normaliseWhitespace(_ text: String) -> String {
    text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
}

/// Character error rate: Levenshtein distance over Unicode scalars divided by the expected length.
public func characterErrorRate(expected: String, actual: String) -> Double {
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

public func containsCyrillic(_ text: String) -> Bool {
    text.unicodeScalars.contains { (0x0400...0x04FF).contains($0.value) }
}

