/// How one page of a document was read: where its text came from and what
/// was done to the picture first. Stored with the message, so a person can
/// see why a page reads the way it does.
public struct PageReading: Sendable, Equatable {
    /// Where a page's text came from.
    public enum Source: String, Sendable {
        /// The PDF's own text layer, used as it is.
        case textLayer = "text_layer"
        /// Tesseract, from the page's picture.
        case ocr
        /// The upload was plain text.
        case plainText = "plain_text"
    }

    /// Below this mean word confidence a page is said to be hard to read.
    public static let lowConfidence = 50

    /// The page's number, from 1.
    public var number: Int
    /// Where the text came from.
    public var source: Source
    /// Degrees the picture was turned clockwise to read it upright (0, 90,
    /// 180 or 270), from its EXIF orientation and Tesseract's orientation
    /// detection together; 0 for text.
    public var rotation: Int
    /// Degrees the picture was turned clockwise (negative: counter-clockwise)
    /// to straighten its skew before recognition; 0 when it was straight
    /// enough for Tesseract's own line finding.
    public var skew: Double
    /// The resolution, in dots per inch, the picture was recognised at: a
    /// scan's own, the PDF render resolution, the image's stated one, or 300
    /// when an image does not state one. `nil` for text.
    public var resolution: Int?
    /// Tesseract's mean word confidence, 0–100; `nil` for text.
    public var confidence: Int?

    /// Creates a page reading.
    public init(number: Int, source: Source, rotation: Int = 0, skew: Double = 0, resolution: Int? = nil, confidence: Int? = nil) {
        self.number = number
        self.source = source
        self.rotation = rotation
        self.skew = skew
        self.resolution = resolution
        self.confidence = confidence
    }

    /// A sentence for a person when the page was hard to read, else `nil`.
    public var warning: String? {
        guard let confidence, confidence < Self.lowConfidence else { return nil }
        return "Page \(number) was hard to read (confidence \(confidence) %), so its text may contain mistakes; a sharper, evenly lit picture would read better."
    }
}
