import CTesseract
import Foundation
import ScribeDocuments
import ScribeOCR
import ScribeTestSupport
import Testing

/// A Leptonica picture a test owns, for making variants of the fixtures the
/// way people's pages come: turned, mirrored, skewed, unevenly lit, at
/// another resolution. Every transform returns a new picture.
final class Picture {
    private(set) var pix: UnsafeMutablePointer<PIX>?

    private struct NoPicture: Error {}

    private init(_ made: UnsafeMutablePointer<PIX>?) throws {
        guard let made else { throw NoPicture() }
        pix = made
    }

    deinit { pixDestroy(&pix) }

    /// A fixture as 8-bit grey.
    static func fixture(_ name: String) throws -> Picture {
        let bytes = try Fixtures.bytes(name)
        var decoded = bytes.withUnsafeBufferPointer { pixReadMem($0.baseAddress, $0.count) }
        defer { pixDestroy(&decoded) }
        return try Picture(pixConvertTo8(decoded, 0))
    }

    /// A picture decoded from an image file's bytes, as 8-bit grey.
    static func decoded(_ bytes: [UInt8]) throws -> Picture {
        var decoded = bytes.withUnsafeBufferPointer { pixReadMem($0.baseAddress, $0.count) }
        defer { pixDestroy(&decoded) }
        return try Picture(pixConvertTo8(decoded, 0))
    }

    var width: Int { Int(pixGetWidth(pix)) }
    var height: Int { Int(pixGetHeight(pix)) }

    /// Turned clockwise by `quarters` × 90°.
    func turned(clockwiseQuarters quarters: Int) throws -> Picture {
        try Picture(pixRotateOrth(pix, Int32(((quarters % 4) + 4) % 4)))
    }

    /// Mirrored left to right.
    func mirrored() throws -> Picture {
        try Picture(pixFlipLR(nil, pix))
    }

    /// Turned by a few degrees (positive is clockwise), white brought in at the corners.
    func skewed(degrees: Double) throws -> Picture {
        try Picture(pixRotate(pix, Float(degrees * .pi / 180), Int32(L_ROTATE_AREA_MAP), Int32(L_BRING_IN_WHITE), 0, 0))
    }

    /// Scaled by `factor` (0.67 turns a 300 ppi page into a 200 ppi one).
    func scaled(_ factor: Double) throws -> Picture {
        try Picture(pixScale(pix, Float(factor), Float(factor)))
    }

    /// How a page can be lit badly.
    enum Light: String, CaseIterable, CustomTestStringConvertible {
        /// Bright on the left, 40 % as bright on the right (a window to one side).
        case fromTheLeft
        /// A lamp's bright spot near the top left, falling off to a quarter.
        case lamp

        var testDescription: String { rawValue }

        func factor(x: Double, y: Double) -> Double {
            switch self {
            case .fromTheLeft: 1 - 0.6 * x
            case .lamp: max(0.25, 1 - 0.9 * ((x - 0.3) * (x - 0.3) + (y - 0.3) * (y - 0.3)).squareRoot())
            }
        }
    }

    /// Lit unevenly: every grey value scaled by the light's factor at that
    /// point. Leptonica does the pixel work (a loop over every pixel in a
    /// debug build would hold a cooperative thread for a second).
    func lit(_ light: Light) throws -> Picture {
        // How much darker each point is, on a small grid scaled up smoothly.
        let grid = try Picture(pixCreate(64, 64, 8))
        for y in 0..<64 {
            for x in 0..<64 {
                let factor = light.factor(x: (Double(x) + 0.5) / 64, y: (Double(y) + 0.5) / 64)
                pixSetPixel(grid.pix, Int32(x), Int32(y), UInt32((1 - factor) * 255))
            }
        }
        let shade = try Picture(pixScaleToSize(grid.pix, Int32(width), Int32(height)))
        let black = try Picture(pixCreate(Int32(width), Int32(height), 8))
        return try Picture(pixBlendWithGrayMask(pix, black.pix, shade.pix, 0, 0))
    }

    /// Encoded in a Leptonica format (`IFF_PNG`, `IFF_JFIF_JPEG`, ...).
    func encoded(_ format: Int32) throws -> [UInt8] {
        var data: UnsafeMutablePointer<UInt8>?
        var size = 0
        try #require(pixWriteMem(&data, &size, pix, format) == 0)
        defer { free(data) }
        return Array(UnsafeBufferPointer(start: try #require(data), count: size))
    }

    /// A JPEG of the picture, as a camera writes it.
    func jpeg() throws -> [UInt8] { try encoded(Int32(IFF_JFIF_JPEG)) }

    /// The grey values, row by row (through Leptonica's PGM writer).
    func greyRows() throws -> [UInt8] {
        let pgm = try encoded(Int32(IFF_PNM))
        // "P5", width, height, maxval, separated by whitespace; '#' starts a comment line.
        var tokens: [String] = []
        var index = 0
        let whitespace: Set<UInt8> = [0x20, 0x0A, 0x0D, 0x09]
        while tokens.count < 4 {
            if pgm[index] == UInt8(ascii: "#") {
                while pgm[index] != UInt8(ascii: "\n") { index += 1 }
            } else if whitespace.contains(pgm[index]) {
                index += 1
            } else {
                let start = index
                while !whitespace.contains(pgm[index]) { index += 1 }
                tokens.append(String(decoding: pgm[start..<index], as: UTF8.self))
            }
        }
        let pixels = Array(pgm[(index + 1)...])
        try #require(tokens[0] == "P5" && tokens[3] == "255" && pixels.count == width * height)
        return pixels
    }

    /// The picture stored the way a camera holding it with `orientation`
    /// stores its sensor's pixels: undoing what the tag says to do.
    func stored(as orientation: EXIFOrientation) throws -> Picture {
        let (quarters, mirrored) = Self.transform(of: orientation)
        // The tag says: flip (if mirrored), then turn `quarters` clockwise. Undo both in reverse.
        let unturned = try turned(clockwiseQuarters: 4 - quarters)
        return mirrored ? try unturned.mirrored() : unturned
    }
}

extension Picture {
    /// What the EXIF standard says a viewer does with each tag: flip left to
    /// right (or not), then turn clockwise by quarters. Written out here, not
    /// taken from ScribeOCR, so the tests check Scribe against the standard.
    static func transform(of orientation: EXIFOrientation) -> (quarters: Int, mirrored: Bool) {
        switch orientation {
        case .up: (0, false)
        case .upMirrored: (0, true)
        case .down: (2, false)
        case .downMirrored: (2, true)
        case .leftMirrored: (3, true)
        case .right: (1, false)
        case .rightMirrored: (1, true)
        case .left: (3, false)
        }
    }
}

enum EXIF {
    /// A JPEG with an EXIF block stating `orientation`, inserted after the
    /// JFIF header as cameras place it.
    static func jpeg(_ jpeg: [UInt8], orientation: EXIFOrientation) throws -> [UInt8] {
        try #require(jpeg.starts(with: [0xFF, 0xD8]))
        // A big-endian TIFF structure with one IFD holding one entry.
        let tiff: [UInt8] = Array("MM".utf8) + [0x00, 0x2A, 0, 0, 0, 8] + [0, 1]
            + [0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0, UInt8(orientation.rawValue), 0, 0]
            + [0, 0, 0, 0]
        let body = Array("Exif\0\0".utf8) + tiff
        let segment: [UInt8] = [0xFF, 0xE1, UInt8((body.count + 2) >> 8), UInt8((body.count + 2) & 0xFF)] + body
        var insertAt = 2
        if jpeg[2] == 0xFF, jpeg[3] == 0xE0 {
            insertAt = 4 + (Int(jpeg[4]) << 8 | Int(jpeg[5]))
        }
        return Array(jpeg[..<insertAt]) + segment + Array(jpeg[insertAt...])
    }

    /// An uncompressed 8-bit grey TIFF whose Orientation tag says `orientation`.
    static func tiff(_ picture: Picture, orientation: EXIFOrientation) throws -> [UInt8] {
        let (width, height) = (picture.width, picture.height)
        let pixels = try picture.greyRows()
        func short(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
        func long(_ value: Int) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }
        func entry(_ tag: Int, _ type: Int, _ value: Int) -> [UInt8] {
            short(tag) + short(type) + long(1) + (type == 3 ? short(value) + [0, 0] : long(value))
        }
        let entries = 10
        let ifdSize = 2 + 12 * entries + 4
        let pixelOffset = 8 + ifdSize
        var bytes: [UInt8] = Array("II".utf8) + short(42) + long(8)
        bytes += short(entries)
        bytes += entry(256, 4, width)        // ImageWidth
        bytes += entry(257, 4, height)       // ImageLength
        bytes += entry(258, 3, 8)            // BitsPerSample
        bytes += entry(259, 3, 1)            // Compression: none
        bytes += entry(262, 3, 1)            // Photometric: black is zero
        bytes += entry(273, 4, pixelOffset)  // StripOffsets
        bytes += entry(274, 3, orientation.rawValue) // Orientation
        bytes += entry(277, 3, 1)            // SamplesPerPixel
        bytes += entry(278, 4, height)       // RowsPerStrip
        bytes += entry(279, 4, pixels.count) // StripByteCounts
        bytes += long(0)
        return bytes + pixels
    }
}
