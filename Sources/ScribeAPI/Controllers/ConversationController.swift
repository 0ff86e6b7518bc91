import Foundation
import Hummingbird
import ScribePostgres
import ScribeStore

/// Conversations and their messages: create, list, get, delete, history, one
/// message, and a page of a message's document (what a source opens).
struct ConversationController {
    let conversations: ConversationStore
    let messages: MessageStore
    let passages: PassageStore
    /// Keeps rendered history pages fresh.
    let events: EventHub

    struct CreateRequest: Decodable {
        var title: String?
    }

    func addRoutes(to group: RouterGroup<ScribeRequestContext>) {
        group.post("conversations", use: create)
        group.get("conversations", use: list)
        group.get("conversations/{id}", use: get)
        group.patch("conversations/{id}", use: rename)
        group.delete("conversations/{id}", use: delete)
        group.get("conversations/{id}/messages", use: messages)
        group.get("messages/{id}", use: message)
        group.get("messages/{id}/pages/{page}", use: page)
    }

    @Sendable func create(_ request: Request, context: ScribeRequestContext) async throws -> EditedResponse<ConversationResponse> {
        let user = try context.requireIdentity()
        let input = try await request.decodeJSON(as: CreateRequest.self, context: context)
        let title = try Self.title(input.title)
        let conversation = try await conversations.createConversation(userID: user.id, title: title)
        return EditedResponse(status: .created, response: ConversationResponse(conversation))
    }

    @Sendable func list(_ request: Request, context: ScribeRequestContext) async throws -> ListResponse<ConversationResponse> {
        let user = try context.requireIdentity()
        let pagination = try Pagination(request)
        let cursor = try pagination.after.map { text throws(APIError) in
            guard let cursor = ConversationCursor(text) else { throw Pagination.badCursor() }
            return cursor
        }
        let page = try await conversations.conversations(userID: user.id, limit: pagination.limit, after: cursor)
        return ListResponse(items: page.items.map(ConversationResponse.init), nextCursor: page.nextCursor)
    }

    @Sendable func get(_ request: Request, context: ScribeRequestContext) async throws -> ConversationResponse {
        let user = try context.requireIdentity()
        let id = try context.parameters.uuid("id", naming: "Conversation")
        guard let conversation = try await conversations.conversation(id: id, userID: user.id) else {
            throw APIError.notFound("Conversation")
        }
        return ConversationResponse(conversation)
    }

    struct RenameRequest: Decodable {
        var title: String?
    }

    @Sendable func rename(_ request: Request, context: ScribeRequestContext) async throws -> ConversationResponse {
        let user = try context.requireIdentity()
        let id = try context.parameters.uuid("id", naming: "Conversation")
        let input = try await request.decodeJSON(as: RenameRequest.self, context: context)
        guard let raw = input.title, !raw.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalid("title", code: "empty_title", "'title' must not be empty.")
        }
        guard let conversation = try await conversations.renameConversation(id: id, userID: user.id, title: try Self.title(raw)) else {
            throw APIError.notFound("Conversation")
        }
        return ConversationResponse(conversation)
    }

    @Sendable func delete(_ request: Request, context: ScribeRequestContext) async throws -> HTTPResponse.Status {
        let user = try context.requireIdentity()
        let id = try context.parameters.uuid("id", naming: "Conversation")
        guard try await conversations.deleteConversation(id: id, userID: user.id, origin: context.auditOrigin) else { throw APIError.notFound("Conversation") }
        return .noContent
    }

    /// The history poll, the hottest read: each message's JSON was rendered
    /// when it was written; the page wraps those stored bytes as they are, and
    /// the process keeps the page until its conversation changes.
    @Sendable func messages(_ request: Request, context: ScribeRequestContext) async throws -> Response {
        let user = try context.requireIdentity()
        let id = try context.parameters.uuid("id", naming: "Conversation")
        let pagination = try Pagination(request)
        let after = try pagination.after.map { text throws(APIError) in
            guard let id = UUID(uuidString: text) else { throw Pagination.badCursor() }
            return id
        }
        let key = HistoryPageCache.Key(conversationID: id, after: after, limit: pagination.limit)
        let body = try await events.historyPage(key, userID: user.id) {
            try await messages.renderedMessages(conversationID: id, userID: user.id, limit: pagination.limit, after: after).map(Self.historyBody)
        }
        guard let body else { throw APIError.notFound("Conversation") }
        return Response.json(body)
    }

    /// `{"items":[…],"next_cursor":…}` around the stored messages' JSON.
    static func historyBody(_ page: RenderedPage) -> ByteBuffer {
        var elements = page.elements
        var body = ByteBuffer()
        body.reserveCapacity(elements.readableBytes + 96)
        body.writeStaticString("{\"items\":[")
        body.writeBuffer(&elements)
        body.writeStaticString("],\"next_cursor\":")
        if let cursor = page.nextCursor {
            body.writeString("\"\(cursor)\"")
        } else {
            body.writeStaticString("null")
        }
        body.writeStaticString("}")
        return body
    }

    @Sendable func message(_ request: Request, context: ScribeRequestContext) async throws -> Response {
        let user = try context.requireIdentity()
        let id = try context.parameters.uuid("id", naming: "Message")
        guard let json = try await messages.renderedMessage(id: id, userID: user.id) else { throw APIError.notFound("Message") }
        return Response.json(json, conditionalOn: request)
    }

    /// `GET /v1/messages/{id}/pages/{page}`: the recognised text of one page
    /// of the document the message carries, as retrieval indexed it.
    @Sendable func page(_ request: Request, context: ScribeRequestContext) async throws -> PageTextResponse {
        let user = try context.requireIdentity()
        let id = try context.parameters.uuid("id", naming: "Message")
        // Like an id that is not one, a page that is not a number is not found.
        guard let text = context.parameters.get("page"), let number = Int(text), number >= 1 else { throw APIError.notFound("Page") }
        guard let page = try await passages.page(number, messageID: id, userID: user.id) else { throw APIError.notFound("Page") }
        return PageTextResponse(page)
    }

    static let defaultTitle = "New conversation"

    static func title(_ raw: String?) throws(APIError) -> String {
        guard let raw else { return defaultTitle }
        let title = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !title.isEmpty else { return defaultTitle }
        guard title.count <= 200 else {
            throw .invalid("title", code: "title_too_long", "'title' must be at most 200 characters.")
        }
        return title
    }
}
