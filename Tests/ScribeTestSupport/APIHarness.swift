import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import ScribeAPI
import ScribeChat
import ScribeFlows
import ScribeQueue
import ScribeLLM
import ScribePostgres
import ScribeStore
import ServiceLifecycle

/// The JWT secret every API test signs with.
public let testSecret = String(repeating: "test-secret-", count: 4)

/// Runs `body` against the real router, with a real pool on the shared test
/// database (or `database`), plus any `services` built on the same stores
/// (e.g. a queue worker, so uploads are processed while the test polls).
public func withAPI(
    provider: any LLMProvider = ExtractiveProvider(),
    tokenLifetime: Duration = .seconds(3600),
    uploads: UploadLimits = UploadLimits(maxFileBytes: 2 << 20, maxRequestBytes: 4 << 20, maxFiles: 3, jobMaxAttempts: 3),
    database: DatabaseURL? = nil,
    services: @Sendable (Stores, ChatResponder) -> [any Service] = { _, _ in [] },
    eventHeartbeat: Duration = .seconds(15),
    webRoot: String? = nil,
    limits: RequestLimits = RequestLimits(),
    loginThrottle: LoginThrottlePolicy = LoginThrottlePolicy(),
    http: HTTPPolicy = HTTPPolicy(),
    botHistoryMessages: Int = 5,
    semantic: SemanticRetrieval? = nil,
    _ body: @Sendable (APIClient) async throws -> Void
) async throws {
    let url = if let database { database } else { try await TestDatabase.shared() }
    let postgres = Database(url: url, options: TestDatabase.options, logger: TestDatabase.logger)
    let stores = Stores(database: postgres, logger: TestDatabase.logger)
    let tokens = await AccessTokens(secret: testSecret, lifetime: tokenLifetime)
    let responder = ChatResponder(
        messages: stores.messages,
        passages: stores.passages,
        provider: provider,
        systemPrompt: "You are a test assistant.",
        budget: ContextBudget(maxMessages: 10, maxTokens: 4000),
        semantic: semantic
    )
    // A catch-up round may take longer than production's second on a test machine
    // running every suite at once; the tests that need a page kept must get one.
    let events = EventHub(
        database: stores.database, events: stores.events, heartbeat: eventHeartbeat, catchUpDeadline: .seconds(10), logger: TestDatabase.logger
    )
    let dependencies = APIDependencies(
        stores: stores,
        tokens: tokens,
        streamTokens: await StreamTokens(secret: testSecret),
        events: events,
        chat: ChatFlow(messages: stores.messages, usage: stores.usage, responder: responder, dailyLimit: limits.webDailyRequests),
        botChat: ChatFlow(messages: stores.messages, usage: stores.usage, responder: responder.withHistory(maxMessages: botHistoryMessages), dailyLimit: limits.botDailyRequests),
        files: FileFlow(stores: stores, queue: JobQueue(database: postgres, logger: TestDatabase.logger)),
        bcryptCost: 4,
        maxJSONBodyBytes: 64 * 1024,
        uploads: uploads,
        webRoot: webRoot,
        limits: limits,
        loginThrottle: loginThrottle,
        http: http
    )
    let app = Application(
        router: buildRouter(dependencies),
        services: [postgres] + services(stores, responder) + [events],
        logger: TestDatabase.logger
    )
    try await app.test(.router) { client in
        try await body(APIClient(client: client, tokens: tokens, stores: stores, events: events))
    }
}

/// A thin JSON client over Hummingbird's test client.
public struct APIClient: Sendable {
    public let client: any TestClientProtocol
    public let tokens: AccessTokens
    public let stores: Stores
    /// The API's event hub (its listener keeps the history pages fresh).
    public let events: EventHub

    public struct Reply: @unchecked Sendable {
        public var status: HTTPResponse.Status
        public var headers: HTTPFields
        public var json: [String: Any]
        /// The body as text (for a streamed answer).
        public var text: String = ""

        public subscript(key: String) -> Any? { json[key] }
        public var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        public var errorField: String? { (json["error"] as? [String: Any])?["field"] as? String }
        public var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
        public var nextCursor: String? { json["next_cursor"] as? String }
    }

    @discardableResult
    public func send(
        _ method: HTTPRequest.Method,
        _ path: String,
        token: String? = nil,
        json: [String: Any]? = nil,
        raw: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json { body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)) }
        if let raw { body = ByteBuffer(string: raw) }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
        return Reply(status: response.status, headers: response.headers, json: object, text: String(buffer: response.body))
    }

    /// Registers a fresh user and returns its token and id.
    public func registerUser(prefix: String = "user") async throws -> (token: String, id: String) {
        let name = "\(prefix)\(UUID().uuidString.prefix(8).lowercased())"
        let reply = try await send(.post, "/v1/auth/register", json: ["email": "\(name)@example.com", "password": "correct horse battery"])
        guard reply.status == .created, let token = reply["access_token"] as? String,
            let user = reply["user"] as? [String: Any], let id = user["id"] as? String
        else {
            throw HarnessError("registration failed: \(reply.status) \(reply.json)")
        }
        return (token, id)
    }

    /// Creates a service key as `scribe keys create` does and returns the key itself.
    public func createServiceKey(name: String = "bot-\(UUID().uuidString.prefix(8))", scopes: [String] = ["chat"]) async throws -> String {
        let secret = ServiceKeySecret()
        _ = try await stores.serviceKeys.createServiceKey(name: name, prefix: secret.prefix, hash: secret.hash, scopes: scopes)
        return secret.value
    }

    /// `POST /v1/chat/send` as a bot with `key`.
    @discardableResult
    public func botSend(key: String?, _ json: [String: Any], headers extra: HTTPFields = [:]) async throws -> Reply {
        var headers = extra
        if let key { headers[HTTPField.Name("X-API-KEY")!] = key }
        return try await send(.post, "/v1/chat/send", json: json, headers: headers)
    }

    public func createConversation(_ token: String, title: String = "Test") async throws -> String {
        let reply = try await send(.post, "/v1/conversations", token: token, json: ["title": title])
        guard reply.status == .created, let id = reply["id"] as? String else {
            throw HarnessError("create conversation failed: \(reply.status)")
        }
        return id
    }
}

extension APIClient {
    /// A file part of an upload.
    public struct FilePart: Sendable {
        public var filename: String
        public var contentType: String
        public var bytes: [UInt8]

        public init(filename: String, contentType: String, bytes: [UInt8]) {
            self.filename = filename
            self.contentType = contentType
            self.bytes = bytes
        }
    }

    /// `POST /v1/chat/file` with a multipart body built here.
    @discardableResult
    public func upload(
        token: String,
        conversationID: String?,
        files: [FilePart],
        text: String? = nil,
        idempotencyKey: String? = nil,
        requestID: String? = nil
    ) async throws -> Reply {
        let boundary = "scribe-test-\(UUID().uuidString)"
        var body = ByteBuffer()
        func field(_ name: String, _ value: String) {
            body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
        }
        if let conversationID { field("conversation_id", conversationID) }
        if let text { field("text", text) }
        for file in files {
            body.writeString(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.filename)\"\r\nContent-Type: \(file.contentType)\r\n\r\n"
            )
            body.writeBytes(file.bytes)
            body.writeString("\r\n")
        }
        body.writeString("--\(boundary)--\r\n")
        var headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)", .authorization: "Bearer \(token)"]
        if let idempotencyKey { headers[HTTPField.Name("Idempotency-Key")!] = idempotencyKey }
        if let requestID { headers[HTTPField.Name("X-Request-ID")!] = requestID }
        let response = try await client.execute(uri: "/v1/chat/file", method: .post, headers: headers, body: body)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
        return Reply(status: response.status, headers: response.headers, json: object, text: String(buffer: response.body))
    }

    /// Polls `GET /v1/messages/{id}` until the message is `done` or `failed` (or `timeout` passes).
    public func waitForMessage(_ id: String, token: String, timeout: Duration = .seconds(90)) async throws -> Reply {
        let deadline = ContinuousClock.now + timeout
        while true {
            let reply = try await send(.get, "/v1/messages/\(id)", token: token)
            if let status = reply["status"] as? String, status == "done" || status == "failed" { return reply }
            guard ContinuousClock.now < deadline else {
                throw HarnessError("message \(id) still \(reply["status"] ?? "?") after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension APIClient {
    /// The user who owns conversation `id`, read straight from the database.
    public func conversationOwner(_ id: String) async throws -> UUID {
        try await stores.database.withConnection { connection in
            let rows = try await connection.query("SELECT user_id FROM conversations WHERE id = \(UUID(uuidString: id))", logger: TestDatabase.logger)
            for try await owner in rows.decode(UUID.self) { return owner }
            throw HarnessError("no conversation \(id)")
        }
    }

    /// How many messages conversation `id` holds, read straight from the database.
    public func messageCount(conversationID id: String) async throws -> Int {
        try await stores.database.withConnection { connection in
            let rows = try await connection.query("SELECT count(*) FROM messages WHERE conversation_id = \(UUID(uuidString: id))", logger: TestDatabase.logger)
            for try await count in rows.decode(Int.self) { return count }
            return 0
        }
    }
}

extension APIClient {
    /// The metadata the queue carries for job `id`, read straight from the database.
    public func jobMetadata(_ id: String) async throws -> [String: String] {
        try await stores.database.withConnection { connection in
            let rows = try await connection.query("SELECT metadata::text FROM jobs WHERE id = \(UUID(uuidString: id))", logger: TestDatabase.logger)
            for try await text in rows.decode(String.self) {
                return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
            }
            throw HarnessError("no job \(id)")
        }
    }
}

extension APIClient {
    /// Runs statements of the test's own straight on the database, one at a time.
    public func execute(unsafeSQL statements: String...) async throws {
        for sql in statements {
            _ = try await stores.database.withConnection { connection in
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
            }
        }
    }
}
