import ScribeDocuments
/// The EXIF Orientation tag (0x0112): how the stored pixels must be turned
/// and mirrored to show the picture the way the camera held it.
///
/// Phones store the sensor's pixels as they came and write this tag rather
/// than rotating the picture, and every photo viewer honours it. Leptonica
/// applies a TIFF file's own tag while decoding; a JPEG's lives in its EXIF
/// block, which Leptonica ignores, so Scribe reads it here.
public enum EXIFOrientation: Int, Sendable, CaseIterable {
    /// The pixels are upright.
    case up = 1
    /// Mirrored left to right.
    case upMirrored = 2
    /// Upside down.
    case down = 3
    /// Mirrored top to bottom.
    case downMirrored = 4
    /// Mirrored left to right, then to be turned 270° clockwise.
    case leftMirrored = 5
    /// To be turned 90° clockwise.
    case right = 6
    /// Mirrored left to right, then to be turned 90° clockwise.
    case rightMirrored = 7
    /// To be turned 270° clockwise (90° counter-clockwise).
    case left = 8

    /// Whether the pixels are mirrored (after the flip they still need `clockwiseQuarterTurns`).
    var isMirrored: Bool { [.upMirrored, .downMirrored, .leftMirrored, .rightMirrored].contains(self) }

    /// Quarter turns clockwise that show the picture upright, after the
    /// left-to-right flip when `isMirrored`.
    var clockwiseQuarterTurns: Int {
        switch self {
        case .up, .upMirrored: 0
        case .right, .rightMirrored: 1
        case .down: 2
        case .downMirrored: 2 // a top-to-bottom mirror is a left-to-right one turned 180°
        case .left, .leftMirrored: 3
        }
    }

    /// The orientation a JPEG's EXIF block states, or `nil` when it has
    /// none, states an unknown value, or the file is not a well-formed JPEG
    /// up to its first scan.
    ///
    /// Only the segment headers before the image data are read, each bounds-checked.
    public init?(jpeg bytes: some RandomAccessCollection<UInt8>) {
        let data = Array(bytes.prefix(256 * 1024))
        guard data.count >= 4, data[0] == 0xFF, data[1] == 0xD8 else { return nil }
        var index = 2
        while index + 4 <= data.count {
            guard data[index] == 0xFF else { return nil }
            let marker = data[index + 1]
            if marker == 0xFF { index += 1; continue } // fill byte
            if marker == 0xDA || marker == 0xD9 { return nil } // start of scan / end of image: no EXIF before the pixels
            if (0xD0...0xD7).contains(marker) || marker == 0x01 { index += 2; continue } // markers without a length
            let length = Int(data[index + 2]) << 8 | Int(data[index + 3])
            guard length >= 2, index + 2 + length <= data.count else { return nil }
            let body = data[(index + 4)..<(index + 2 + length)]
            if marker == 0xE1, body.starts(with: Array("Exif\0\0".utf8)) {
                guard let value = Self.orientationTag(inTIFF: Array(body.dropFirst(6))) else { return nil }
                self.init(rawValue: value)
                return
            }
            index += 2 + length
        }
        return nil
    }

    /// The Orientation entry of the first IFD of a TIFF structure (an EXIF block's payload).
    static func orientationTag(inTIFF tiff: [UInt8]) -> Int? {
        guard tiff.count >= 8 else { return nil }
        let littleEndian: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return nil
        }
        func integer(at offset: Int, size: Int) -> Int? {
            guard offset >= 0, offset + size <= tiff.count else { return nil }
            var value = 0
            for byte in 0..<size {
                let shift = littleEndian ? 8 * byte : 8 * (size - 1 - byte)
                value |= Int(tiff[offset + byte]) << shift
            }
            return value
        }
        guard integer(at: 2, size: 2) == 42, let ifd = integer(at: 4, size: 4),
              let count = integer(at: ifd, size: 2) else { return nil }
        for entry in 0..<count {
            let offset = ifd + 2 + 12 * entry
            guard let tag = integer(at: offset, size: 2) else { return nil }
            guard tag == 0x0112 else { continue }
            // Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
            guard integer(at: offset + 2, size: 2) == 3, integer(at: offset + 4, size: 4) == 1 else { return nil }
            return integer(at: offset + 8, size: 2)
        }
        return nil
    }
}
