import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import ScribeAPI
import ScribeChat
import ScribeLLM
import ScribeStore
import ScribeTestSupport

/// The JWT secret every API test signs with.
let testSecret = String(repeating: "test-secret-", count: 4)

/// Runs `body` against the real router, with a real pool on the shared test database.
func withAPI(
    provider: any LLMProvider = ExtractiveProvider(),
    tokenLifetime: Duration = .seconds(3600),
    _ body: @Sendable (APIClient) async throws -> Void
) async throws {
    let configuration = try await TestDatabase.shared()
    let postgres = PostgresClient(configuration: configuration, backgroundLogger: TestDatabase.logger)
    let store = Store(client: postgres, logger: TestDatabase.logger)
    let tokens = await AccessTokens(secret: testSecret, lifetime: tokenLifetime)
    let responder = ChatResponder(
        store: store,
        provider: provider,
        systemPrompt: "You are a test assistant.",
        budget: ContextBudget(maxMessages: 10, maxTokens: 4000)
    )
    let dependencies = APIDependencies(store: store, tokens: tokens, responder: responder, bcryptCost: 4, maxJSONBodyBytes: 64 * 1024)
    let app = Application(router: buildRouter(dependencies), services: [postgres], logger: TestDatabase.logger)
    try await app.test(.router) { client in
        try await body(APIClient(client: client, tokens: tokens, store: store))
    }
}

/// A thin JSON client over Hummingbird's test client.
struct APIClient: Sendable {
    let client: any TestClientProtocol
    let tokens: AccessTokens
    let store: Store

    struct Reply: @unchecked Sendable {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var json: [String: Any]

        subscript(key: String) -> Any? { json[key] }
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        var errorField: String? { (json["error"] as? [String: Any])?["field"] as? String }
        var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
        var nextCursor: String? { json["next_cursor"] as? String }
    }

    @discardableResult
    func send(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: [String: Any]? = nil, raw: String? = nil) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json { body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)) }
        if let raw { body = ByteBuffer(string: raw) }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
        return Reply(status: response.status, headers: response.headers, json: object)
    }

    /// Registers a fresh user and returns its token and id.
    func registerUser(prefix: String = "user") async throws -> (token: String, id: String) {
        let name = "\(prefix)\(UUID().uuidString.prefix(8).lowercased())"
        let reply = try await send(.post, "/v1/auth/register", json: ["email": "\(name)@example.com", "password": "correct horse battery"])
        guard reply.status == .created, let token = reply["access_token"] as? String,
            let user = reply["user"] as? [String: Any], let id = user["id"] as? String
        else {
            throw HarnessError("registration failed: \(reply.status) \(reply.json)")
        }
        return (token, id)
    }

    func createConversation(_ token: String, title: String = "Test") async throws -> String {
        let reply = try await send(.post, "/v1/conversations", token: token, json: ["title": title])
        guard reply.status == .created, let id = reply["id"] as? String else {
            throw HarnessError("create conversation failed: \(reply.status)")
        }
        return id
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
