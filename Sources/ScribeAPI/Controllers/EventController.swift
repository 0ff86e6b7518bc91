import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ScribePostgres
import ScribeStore

/// `GET /v1/conversations/{id}/events`: a Server-Sent Events stream of what
/// happens in one conversation, and `POST …/events/token`: a short-lived
/// token that opens it from a browser's `EventSource`.
///
/// Each event is `message.created` or `message.updated`, its data the message
/// as `GET /v1/messages/{id}` shows it at that moment, its `id:` a position
/// that only grows. With `Last-Event-ID` (the header `EventSource` sends when
/// it reconnects, or `?last_event_id=`) the stream resumes with every event
/// after it, from the durable log: none lost, none repeated, whichever API
/// process answers. Without it, the stream begins with a `ready` event whose
/// `id:` is the conversation's position now.
struct EventController {
    let conversations: ConversationStore
    let events: EventStore
    let tokens: AccessTokens
    let streamTokens: StreamTokens
    let hub: EventHub

    /// Events read per query.
    static let batch = 200
    /// How long to wait before reading again when a later event is not final yet.
    static let pendingPause = Duration.milliseconds(20)

    struct TokenResponse: ResponseEncodable {
        var token: String
        var expiresIn: Int
    }

    /// The stream route checks its own credentials (a header or a stream token).
    func addPublicRoutes(to group: RouterGroup<ScribeRequestContext>) {
        group.get("conversations/{id}/events", use: events)
    }

    func addPrivateRoutes(to group: RouterGroup<ScribeRequestContext>) {
        group.post("conversations/{id}/events/token", use: token)
    }

    @Sendable func token(_ request: Request, context: ScribeRequestContext) async throws -> TokenResponse {
        let user = try context.requireIdentity()
        let id = try context.parameters.uuid("id", naming: "Conversation")
        guard try await conversations.conversation(id: id, userID: user.id) != nil else { throw APIError.notFound("Conversation") }
        return TokenResponse(
            token: try await streamTokens.issue(userID: user.id, conversationID: id),
            expiresIn: Int(streamTokens.lifetime.components.seconds)
        )
    }

    @Sendable func events(_ request: Request, context: ScribeRequestContext) async throws -> Response {
        let id = try context.parameters.uuid("id", naming: "Conversation")
        let userID = try await streamUser(request, conversationID: id)
        guard try await conversations.conversation(id: id, userID: userID) != nil else { throw APIError.notFound("Conversation") }
        let resumeFrom = try Self.lastEventID(request)
        let start: EventPosition
        if let resumeFrom {
            start = resumeFrom
        } else {
            start = try await events.latestEventPosition(conversationID: id)
        }
        guard let subscription = hub.subscribe(to: id) else {
            throw APIError(.serviceUnavailable, code: "shutting_down", message: "This server is shutting down; reconnect.", headers: [.retryAfter: "1"])
        }
        let events = events
        let body = ResponseBody { writer in
            defer { subscription.end() }
            var opening = "retry: 2000\n\n"
            if resumeFrom == nil { opening += "id: \(start)\nevent: ready\ndata: {}\n\n" }
            try await writer.write(ByteBuffer(string: opening))
            var position = start
            var mustRead = true
            while true {
                if mustRead {
                    let batch: EventBatch
                    do {
                        batch = try await events.events(conversationID: id, after: position, limit: Self.batch)
                    } catch {
                        // The database went away: end the stream; the client resumes from its last id.
                        break
                    }
                    if !batch.events.isEmpty {
                        try await writer.write(ByteBuffer(string: batch.events.map(Self.frame).joined()))
                        position = batch.events[batch.events.count - 1].position
                    }
                    if batch.events.count == Self.batch { continue }
                    if batch.pending {
                        try await Task.sleep(for: Self.pendingPause)
                        continue
                    }
                }
                guard let signals = await subscription.next() else { break }
                if signals.contains(.heartbeat) { try await writer.write(ByteBuffer(string: ": heartbeat\n\n")) }
                mustRead = signals.contains(.changed)
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store", Self.noBuffering: "no"],
            body: body
        )
    }

    static let noBuffering = HTTPField.Name("X-Accel-Buffering")!
    static let lastEventIDHeader = HTTPField.Name("Last-Event-ID")!

    /// One event as SSE text. The data is one line of JSON (the renderer writes no newlines).
    static func frame(_ event: ConversationEvent) -> String {
        let data = event.data.replacingOccurrences(of: "\n", with: "\ndata: ")
        return "id: \(event.position)\nevent: \(event.kind)\ndata: \(data)\n\n"
    }

    /// The user the request speaks for: the access token in `Authorization`,
    /// or a stream token for this conversation in `?token=`.
    func streamUser(_ request: Request, conversationID: UUID) async throws -> UUID {
        if let user = try await BearerAuthenticator.user(bearing: request, tokens: tokens) { return user.id }
        guard let token = request.uri.queryParameters.get("token") else { throw BearerAuthenticator.missingToken }
        guard let grant = await streamTokens.verify(token), grant.conversationID == conversationID else {
            throw APIError(
                .unauthorized,
                code: "invalid_token",
                message: "The stream token is not valid for this conversation, or has expired; ask for a new one.",
                headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""]
            )
        }
        return grant.userID
    }

    /// Where to resume: `Last-Event-ID`, or `?last_event_id=`; nil for a new stream.
    static func lastEventID(_ request: Request) throws(APIError) -> EventPosition? {
        guard let text = request.headers[lastEventIDHeader] ?? request.uri.queryParameters.get("last_event_id"), !text.isEmpty else {
            return nil
        }
        guard let position = EventPosition(text) else {
            throw APIError.badRequest("'Last-Event-ID' is not an event id this stream sent.", field: "Last-Event-ID")
        }
        return position
    }
}
