import Foundation
import Hummingbird
import ScribePostgres
import ScribeStore

// The API's JSON bodies. Keys are encoded snake_case by `JSONCoding.encoder`;
// timestamps are RFC 3339 UTC with milliseconds.

extension UUID {
    /// The lowercase canonical form clients see (`Foundation` prints uppercase).
    var lowercasedString: String { uuidString.lowercased() }
}

extension Date {
    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-21T20:04:05.123Z`,
    /// truncated (not rounded) to the millisecond as Postgres's `to_char(…, 'MS')`
    /// does, so both renderings of a message agree.
    var rfc3339: String {
        // Postgres keeps microseconds; the small offset absorbs Double's error
        // at this magnitude (well under half a microsecond) before truncating.
        let millis = Int64((timeIntervalSince1970 * 1000 + 0.0005).rounded(.down))
        let (seconds, fraction) = (millis.quotientAndRemainder(dividingBy: 1000))
        let (wholeSeconds, milliseconds) = fraction < 0 ? (seconds - 1, fraction + 1000) : (seconds, fraction)
        // Whole seconds format exactly; the milliseconds are appended as digits.
        let base = Date(timeIntervalSince1970: TimeInterval(wholeSeconds)).formatted(Date.ISO8601FormatStyle())
        let digits = String(milliseconds)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}

extension Response {
    /// A 200 with a JSON body that is already encoded.
    static func json(_ body: ByteBuffer) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes)],
            body: .init(byteBuffer: body)
        )
    }
}

struct UserResponse: ResponseEncodable {
    var id: String
    var email: String
    var username: String?
    var createdAt: String

    init(_ user: User) {
        id = user.id.lowercasedString
        email = user.email
        username = user.username
        createdAt = user.createdAt.rfc3339
    }
}

struct SessionResponse: ResponseEncodable {
    var user: UserResponse
    var accessToken: String
    var tokenType = "Bearer"
    var expiresIn: Int64
}

struct ConversationResponse: ResponseEncodable {
    var id: String
    var title: String
    var createdAt: String
    var updatedAt: String

    init(_ conversation: Conversation) {
        id = conversation.id.lowercasedString
        title = conversation.title
        createdAt = conversation.createdAt.rfc3339
        updatedAt = conversation.updatedAt.rfc3339
    }
}

struct MessageResponse: ResponseEncodable {
    struct AttachmentResponse: Encodable {
        var filename: String
        var contentType: String
        var size: Int
        /// The number of pages, once known (a PDF's as soon as its reading starts).
        var pages: Int?
        /// How many of the pages are read so far, while the file is being read.
        var pagesRead: Int?
        /// How each page was read (source, rotation, skew, dpi, confidence, warning), once it has been.
        var pageDetails: [AttachmentPage]?
    }

    var id: String
    var conversationId: String
    var role: String
    var content: String
    var status: String
    var stage: String?
    var error: String?
    var replyTo: String?
    var attachments: [AttachmentResponse]
    var metadata: MessageMetadata?
    var createdAt: String
    var updatedAt: String
    /// The text recognised from the message's file; null for plain messages and before OCR.
    var documentText: String?
    /// For an answer: the passages of the conversation's documents it was given.
    var sources: [MessageSource]

    init(_ message: Message) {
        id = message.id.lowercasedString
        conversationId = message.conversationID.lowercasedString
        role = message.role.rawValue
        content = message.content
        status = message.status.rawValue
        stage = message.stage?.rawValue
        error = message.error
        replyTo = message.replyTo?.lowercasedString
        attachments = message.attachments.map {
            AttachmentResponse(
                filename: $0.filename,
                contentType: $0.contentType,
                size: $0.size,
                pages: $0.pages,
                pagesRead: $0.pagesRead,
                pageDetails: $0.pageDetails
            )
        }
        metadata = message.metadata.isEmpty ? nil : message.metadata
        createdAt = message.createdAt.rfc3339
        updatedAt = message.updatedAt.rfc3339
        documentText = message.documentText
        sources = message.sources
    }

    enum CodingKeys: String, CodingKey {
        case id, conversationId, role, content, status, stage, error, replyTo, attachments, metadata, createdAt, updatedAt, documentText, sources
    }

    /// Encodes every key, with explicit nulls, so pollers see a stable shape.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(conversationId, forKey: .conversationId)
        try container.encode(role, forKey: .role)
        try container.encode(content, forKey: .content)
        try container.encode(status, forKey: .status)
        try container.encode(stage, forKey: .stage)
        try container.encode(error, forKey: .error)
        try container.encode(replyTo, forKey: .replyTo)
        try container.encode(attachments, forKey: .attachments)
        try container.encode(metadata, forKey: .metadata)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(documentText, forKey: .documentText)
        try container.encode(sources, forKey: .sources)
    }
}

/// A page of a message's document: `{message_id, filename, page, text}`.
struct PageTextResponse: ResponseEncodable {
    var messageId: String
    var filename: String
    var page: Int?
    var text: String

    init(_ page: PassagePage) {
        messageId = page.messageID.lowercasedString
        filename = page.filename
        self.page = page.page
        text = page.text
    }
}

/// Every list: `{items, next_cursor}`; the cursor is null on the last page.
struct ListResponse<Item: Encodable & Sendable>: ResponseEncodable {
    var items: [Item]
    var nextCursor: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        // Encode null explicitly: clients test `next_cursor === null`.
        try container.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey {
        case items
        case nextCursor
    }
}

struct ChatResponse: ResponseEncodable {
    var conversationId: String
    var userMessage: MessageResponse
    var assistantMessage: MessageResponse
}
