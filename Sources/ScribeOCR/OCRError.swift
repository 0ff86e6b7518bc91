import ScribeDocuments
/// Why a document could not be read, with a sentence a person can read.
///
/// Messages never contain the file's bytes or recognised text, so they are
/// safe to log and to show to the user who uploaded the file.
public struct OCRError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a stable code a caller can switch on.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private let code: String

        private init(_ code: String) { self.code = code }

        /// The bytes are not an image Leptonica can decode (corrupt, truncated, or another format).
        public static let unreadableImage = Kind("unreadable_image")
        /// The image has more pixels than ``OCRConfiguration/maxPixelsPerImage``.
        public static let tooManyPixels = Kind("too_many_pixels")
        /// The PDF has more pages than ``OCRConfiguration/maxPagesPerPDF``.
        public static let tooManyPages = Kind("too_many_pages")
        /// The bytes are not a PDF poppler can open (damaged, or protected by a password).
        public static let invalidPDF = Kind("invalid_pdf")
        /// The document was read, but it holds no text.
        public static let emptyDocument = Kind("empty_document")
        /// A page took longer than ``OCRConfiguration/pageTimeBudget``.
        public static let timeout = Kind("timeout")
        /// No OCR engine could run the request (missing language data or tools,
        /// the pool shut down, or the request was cancelled). Worth retrying elsewhere.
        public static let engineUnavailable = Kind("engine_unavailable")

        /// The code in snake case, e.g. `too_many_pixels`, for logs and API error bodies.
        public var description: String { code }
    }

    /// What went wrong.
    public var kind: Kind
    /// A sentence for a person, e.g. "The image is 12000×12000 pixels; the limit is 40 megapixels."
    public var message: String

    /// Creates an error of `kind` with a readable `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Whether retrying the same bytes can never succeed. Only
    /// ``Kind/engineUnavailable`` is transient.
    public var isPermanent: Bool { kind != .engineUnavailable }

    /// The kind's code followed by the message.
    public var description: String { "\(kind): \(message)" }
}

extension OCRError {
    static func tooManyPixels(width: Int, height: Int, limit: Int) -> OCRError {
        OCRError(.tooManyPixels, "The image is \(width)×\(height) pixels; the limit is \(describePixels(limit)).")
    }

    static let empty = OCRError(.emptyDocument, "No text was found in the file.")

    /// 40_000_000 → "40 megapixels", 2_500_000 → "2.5 megapixels", 10_000 → "10000 pixels".
    static func describePixels(_ count: Int) -> String {
        guard count >= 1_000_000 else { return "\(count) pixels" }
        let tenths = (count + 50_000) / 100_000
        let text = tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
        return "\(text) megapixels"
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        if milliseconds == 1000 { return "1 second" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) seconds" }
        return "\(milliseconds) ms"
    }
}

extension Duration {
    /// The whole milliseconds in this duration, at least 1.
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
