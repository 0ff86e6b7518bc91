/// The kinds of document Scribe can read, decided from a file's own bytes.
///
/// Every image kind listed here is one this machine's Leptonica decodes
/// (checked with `pixReadMem`: PNG, JPEG, TIFF, WebP, GIF and BMP all read).
public enum DocumentKind: String, Sendable, CaseIterable {
    /// A PNG image.
    case png
    /// A JPEG (JFIF/Exif) image.
    case jpeg
    /// A TIFF image (classic little- or big-endian TIFF).
    case tiff
    /// A WebP image.
    case webp
    /// A GIF image.
    case gif
    /// A Windows BMP image.
    case bmp
    /// A PDF document, read through its text layer and OCR for scanned pages.
    case pdf
    /// UTF-8 text, passed through without OCR.
    case plainText

    /// The IANA media type of this kind, e.g. `image/png` or `application/pdf`.
    public var mediaType: String {
        switch self {
        case .png: "image/png"
        case .jpeg: "image/jpeg"
        case .tiff: "image/tiff"
        case .webp: "image/webp"
        case .gif: "image/gif"
        case .bmp: "image/bmp"
        case .pdf: "application/pdf"
        case .plainText: "text/plain"
        }
    }

    /// Whether this kind is a raster image that goes straight to OCR.
    public var isImage: Bool {
        switch self {
        case .png, .jpeg, .tiff, .webp, .gif, .bmp: true
        case .pdf, .plainText: false
        }
    }

    /// Decides a document's kind from its magic bytes only.
    ///
    /// A declared content type or file name is never consulted: clients get
    /// them wrong, and a wrong one must not route bytes to the wrong reader.
    /// Text is recognised only when it is non-empty, valid UTF-8, free of NUL
    /// bytes and made (almost) entirely of printable characters.
    ///
    /// - Parameter bytes: The start of the file, or all of it (text needs all of it).
    /// - Returns: The kind, or `nil` when the bytes are not a supported document.
    public static func sniff(_ bytes: some Collection<UInt8>) -> DocumentKind? {
        let head = Array(bytes.prefix(32))
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if head.starts(with: Array("II*\0".utf8)) || head.starts(with: Array("MM\0*".utf8)) { return .tiff }
        if head.count >= 12, head.starts(with: Array("RIFF".utf8)), Array(head[8..<12]) == Array("WEBP".utf8) {
            return .webp
        }
        if head.starts(with: Array("GIF87a".utf8)) || head.starts(with: Array("GIF89a".utf8)) { return .gif }
        if isBitmap(head) { return .bmp }
        if head.starts(with: Array("%PDF-".utf8)) { return .pdf }
        if isPlainText(bytes) { return .plainText }
        return nil
    }

    /// "BM" alone is too weak (plenty of text starts with it), so also check
    /// that the reserved fields are zero and the DIB header has a known size.
    private static func isBitmap(_ head: [UInt8]) -> Bool {
        guard head.count >= 18, head[0] == 0x42, head[1] == 0x4D else { return false }
        guard head[6..<10].allSatisfy({ $0 == 0 }) else { return false }
        let dibHeaderSize = UInt32(head[14]) | UInt32(head[15]) << 8 | UInt32(head[16]) << 16 | UInt32(head[17]) << 24
        return [12, 40, 52, 56, 64, 108, 124].contains(dibHeaderSize)
    }

    /// The kind of a file of which only `head`, its first bytes, is at hand:
    /// when the file goes on past them, a character cut short at their end is
    /// not held against it.
    public static func sniff(head: some Collection<UInt8>, ofLongerFile longer: Bool) -> DocumentKind? {
        let bytes = Array(head)
        guard longer, let lead = bytes.indices.reversed().prefix(4).first(where: { bytes[$0] & 0xC0 != 0x80 }) else { return sniff(bytes) }
        let length = bytes[lead] < 0x80 ? 1 : bytes[lead] >= 0xF0 ? 4 : bytes[lead] >= 0xE0 ? 3 : 2
        return sniff(bytes.count - lead < length ? Array(bytes[..<lead]) : bytes)
    }

    /// Non-empty, valid UTF-8, no NUL, and at least 95 % printable scalars.
    private static func isPlainText(_ bytes: some Collection<UInt8>) -> Bool {
        guard !bytes.isEmpty, !bytes.contains(0) else { return false }
        var total = 0
        var unprintable = 0
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                total += 1
                if !isPrintable(scalar) { unprintable += 1 }
            case .emptyInput:
                break decoding
            case .error:
                return false
            }
        }
        return total > 0 && unprintable * 20 <= total
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\t", "\n", "\r", "\u{0C}", "\u{FEFF}":
            return true
        default:
            switch scalar.properties.generalCategory {
            case .control, .unassigned, .privateUse, .surrogate:
                return false
            default:
                return true
            }
        }
    }
}
