import Foundation
import NIOCore
import PostgresNIO
import ScribePostgres

/// A registered person.
public struct User: Sendable, Hashable {
    public var id: UUID
    public var email: String
    public var username: String?
    public var createdAt: Date
}

/// A chat between one user and the assistant.
public struct Conversation: Sendable, Hashable {
    public var id: UUID
    public var userID: UUID
    public var title: String
    public var createdAt: Date
    public var updatedAt: Date
}

/// Who wrote a message.
public enum MessageRole: String, Sendable, Hashable, PostgresCodable {
    case user, assistant, system
}

/// Where a message is in its life: a file upload moves `queued` → `processing` → `done` | `failed`.
public enum MessageStatus: String, Sendable, Hashable, PostgresCodable {
    case queued, processing, done, failed
}

/// A file attached to a user message (its bytes live in its upload, not here).
public struct Attachment: Sendable, Hashable, Codable {
    public var filename: String
    public var contentType: String
    public var size: Int
    /// The number of pages, once known (a PDF's as soon as its reading starts).
    public var pages: Int?
    /// How many of the pages are read so far, while the file is being read.
    public var pagesRead: Int?
    /// How each page was read, once the file has been read.
    public var pageDetails: [AttachmentPage]?

    public init(filename: String, contentType: String, size: Int, pages: Int? = nil, pagesRead: Int? = nil, pageDetails: [AttachmentPage]? = nil) {
        self.filename = filename
        self.contentType = contentType
        self.size = size
        self.pages = pages
        self.pagesRead = pagesRead
        self.pageDetails = pageDetails
    }

    enum CodingKeys: String, CodingKey {
        case filename, size, pages
        case pagesRead = "pages_read"
        case contentType = "content_type"
        case pageDetails = "page_details"
    }
}

/// How one page of an attachment was read, as stored with the message and
/// shown by the API (keys in snake_case).
public struct AttachmentPage: Sendable, Hashable, Codable {
    /// The page's number, from 1.
    public var page: Int
    /// `text_layer` (a PDF's own text), `ocr` or `plain_text`.
    public var source: String
    /// Degrees the picture was turned clockwise to read it upright: 0, 90, 180 or 270.
    public var rotation: Int
    /// Degrees the picture was turned clockwise (negative: counter-clockwise) to straighten it.
    public var skew: Double
    /// The resolution the picture was recognised at, in dots per inch; null for text.
    public var dpi: Int?
    /// Tesseract's mean word confidence, 0–100; null for text.
    public var confidence: Int?
    /// A sentence for a person when the page was hard to read, else null.
    public var warning: String?

    public init(page: Int, source: String, rotation: Int, skew: Double, dpi: Int?, confidence: Int?, warning: String?) {
        self.page = page
        self.source = source
        self.rotation = rotation
        self.skew = skew
        self.dpi = dpi
        self.confidence = confidence
        self.warning = warning
    }

    /// Encodes every key, with explicit nulls, so clients see a stable shape.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(page, forKey: .page)
        try container.encode(source, forKey: .source)
        try container.encode(rotation, forKey: .rotation)
        try container.encode(skew, forKey: .skew)
        try container.encode(dpi, forKey: .dpi)
        try container.encode(confidence, forKey: .confidence)
        try container.encode(warning, forKey: .warning)
    }
}

/// Who produced an assistant message and what it cost.
public struct MessageMetadata: Sendable, Hashable, Codable {
    /// Token counts reported by the model (or estimated offline).
    public struct Usage: Sendable, Hashable, Codable {
        public var promptTokens: Int
        public var completionTokens: Int
        public var totalTokens: Int

        public init(promptTokens: Int, completionTokens: Int, totalTokens: Int) {
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.totalTokens = totalTokens
        }

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }
    }

    /// The provider's name, e.g. `openai-compatible` or `extractive`.
    public var provider: String?
    /// The model that answered.
    public var model: String?
    /// True when the answer came from the offline extractive provider.
    public var offline: Bool?
    /// Token usage.
    public var usage: Usage?

    public init(provider: String? = nil, model: String? = nil, offline: Bool? = nil, usage: Usage? = nil) {
        self.provider = provider
        self.model = model
        self.offline = offline
        self.usage = usage
    }

    /// True when no field is set.
    public var isEmpty: Bool { provider == nil && model == nil && offline == nil && usage == nil }
}

/// One message of a conversation.
public struct Message: Sendable, Hashable {
    public var id: UUID
    public var conversationID: UUID
    public var role: MessageRole
    public var content: String
    public var status: MessageStatus
    /// The stage a message in progress is at, if any.
    public var stage: Stage?
    /// A readable sentence when `status == .failed`.
    public var error: String?
    /// For an assistant message: the user message it answers.
    public var replyTo: UUID?
    public var attachments: [Attachment]
    public var metadata: MessageMetadata
    public var createdAt: Date
    public var updatedAt: Date
    /// The text recognised from the message's file, once OCR (or the PDF text layer) has run.
    public var documentText: String?
    /// For an assistant message: the passages of the conversation's documents its answer was given.
    public var sources: [MessageSource] = []
}

/// A passage an answer was given, as shown under it: which document, which
/// page, and the start of the passage.
public struct MessageSource: Sendable, Hashable, Codable {
    /// The user message that carried the document.
    public var messageID: UUID
    public var filename: String
    /// The page, from 1; nil when the document's page breaks are not known.
    public var page: Int?
    /// The passage's opening words.
    public var snippet: String

    public init(messageID: UUID, filename: String, page: Int?, snippet: String) {
        self.messageID = messageID
        self.filename = filename
        self.page = page
        self.snippet = snippet
    }

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id"
        case filename, page, snippet
    }

    /// Encodes `page` as null when it is not known, as the API shows it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(messageID.uuidString.lowercased(), forKey: .messageID)
        try container.encode(filename, forKey: .filename)
        try container.encode(page, forKey: .page)
        try container.encode(snippet, forKey: .snippet)
    }
}

/// One page of a keyset-paginated list.
public struct Page<Item: Sendable>: Sendable {
    /// The items of this page, in list order.
    public var items: [Item]
    /// The cursor of the next page, or nil when this is the last one.
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// A page of messages already rendered as the API's JSON.
public struct RenderedPage: Sendable {
    /// The page's messages as comma-separated JSON objects (empty for an empty page).
    public var elements: ByteBuffer
    /// The cursor of the next page, or nil when this is the last one.
    public var nextCursor: String?
}
