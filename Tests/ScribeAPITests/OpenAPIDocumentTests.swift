import Foundation
import HTTPTypes
import Hummingbird
import ScribeAPI
import ScribeChat
import ScribeFlows
import ScribeQueue
import ScribeLLM
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// The published contract, `web/openapi.json`, cannot drift from the code:
/// every route the router has is documented, every documented operation is
/// routed, and the document is served at `/openapi.json` with its viewer at
/// `/docs/`. A route added without its documentation fails here.
@Suite struct OpenAPIDocumentTests {
    static let webRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("web")
    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsRouted() async throws {
        let document = try Self.document()
        let paths = try #require(document["paths"] as? [String: Any])
        var documented: Set<String> = []
        for (path, item) in paths {
            let item = try #require(item as? [String: Any], "\(path)")
            for method in Self.methods where item[method] != nil {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        let routed = Set(try await Self.router().routes.map { "\($0.method.rawValue) \(Self.openAPIPath($0.path.description))" })

        #expect(routed.subtracting(documented).sorted() == [], "routes missing from web/openapi.json")
        #expect(documented.subtracting(routed).sorted() == [], "documented operations the router does not have")
        #expect(routed.count >= 17)
    }

    @Test func theDocumentIsOpenAPI31AndConsistent() throws {
        let document = try Self.document()
        let version = try #require(document["openapi"] as? String)
        #expect(version.hasPrefix("3.1."))
        let components = try #require(document["components"] as? [String: Any])
        let schemes = try #require(components["securitySchemes"] as? [String: [String: Any]])
        #expect(schemes["bearerAuth"]?["scheme"] as? String == "bearer")
        #expect(schemes["ApiKey"]?["name"] as? String == "X-API-KEY" && schemes["ApiKey"]?["in"] as? String == "header")

        var operationIDs: [String] = []
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        for (path, item) in paths {
            let pathParameters = try Self.parameters(item["parameters"], in: document)
            for method in Self.methods {
                guard let operation = item[method] as? [String: Any] else { continue }
                let name = "\(method.uppercased()) \(path)"
                operationIDs.append(try #require(operation["operationId"] as? String, "\(name) has no operationId"))
                #expect(operation["security"] != nil, "\(name) says nothing of its security")

                // Each `{name}` in the path is a declared path parameter.
                let declared = try pathParameters + Self.parameters(operation["parameters"], in: document)
                let captures = Set(Self.captures(in: path))
                let inPath = Set(declared.filter { $0["in"] as? String == "path" }.compactMap { $0["name"] as? String })
                #expect(captures == inPath, "\(name): path parameters \(inPath.sorted()) for \(captures.sorted())")

                // Every error is documented in the one error shape.
                let responses = try #require(operation["responses"] as? [String: Any], "\(name)")
                for (status, response) in responses where (Int(status) ?? 0) >= 400 {
                    let response = try Self.resolve(response, in: document)
                    let schema = ((response["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                    #expect(schema?["$ref"] as? String == "#/components/schemas/Error", "\(name) \(status) is not an Error")
                }
            }
        }
        #expect(Set(operationIDs).count == operationIDs.count, "operationIds are not unique")
    }

    @Test func theDocumentAndItsViewerAreServed() async throws {
        let file = try Data(contentsOf: Self.webRoot.appendingPathComponent("openapi.json"))
        try await withAPI(webRoot: Self.webRoot.path) { api in
            let served = try await api.send(.get, "/openapi.json")
            #expect(served.status == .ok)
            #expect(served.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(Data(served.text.utf8) == file)
            #expect((served.json["openapi"] as? String)?.hasPrefix("3.1.") == true)

            let docs = try await api.send(.get, "/docs/")
            #expect(docs.status == .ok)
            #expect(docs.headers[.contentType]?.hasPrefix("text/html") == true)
            for asset in ["/docs/docs.js", "/docs/docs.css"] {
                #expect(docs.text.contains("\"\(asset)\""), "the page does not load \(asset)")
                #expect(try await api.send(.get, asset).status == .ok, "\(asset)")
            }
            // The address without the slash reaches the page too.
            let bare = try await api.send(.get, "/docs")
            #expect(bare.status == .movedPermanently)
            #expect(bare.headers[.location] == "/docs/")
        }
    }

    /// `{id}` (the document's form) for Hummingbird's `:id` or `{id}`.
    static func openAPIPath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { component in
            component.hasPrefix(":") ? "{\(component.dropFirst())}" : String(component)
        }.joined(separator: "/")
    }

    static func captures(in path: String) -> [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") && $0.hasSuffix("}") }.map { String($0.dropFirst().dropLast()) }
    }

    static func document() throws -> [String: Any] {
        let data = try Data(contentsOf: webRoot.appendingPathComponent("openapi.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func parameters(_ value: Any?, in document: [String: Any]) throws -> [[String: Any]] {
        try (value as? [Any] ?? []).map { try resolve($0, in: document) }
    }

    /// A local `$ref` (`#/components/…`) followed to what it names.
    static func resolve(_ value: Any, in document: [String: Any]) throws -> [String: Any] {
        let object = try #require(value as? [String: Any])
        guard let reference = object["$ref"] as? String else { return object }
        var target: Any = document
        for key in reference.dropFirst(2).split(separator: "/") {
            target = try #require((target as? [String: Any])?[String(key)], "\(reference) names nothing")
        }
        return try resolve(target, in: document)
    }

    /// The API's real router, built as `scribe api` builds it (no database is
    /// contacted: only its routes are read).
    static func router() async throws -> Router<ScribeRequestContext> {
        let database = Database(url: try DatabaseURL("postgres://scribe@127.0.0.1:1/unused"), logger: TestDatabase.logger)
        let stores = Stores(database: database, logger: TestDatabase.logger)
        let responder = ChatResponder(messages: stores.messages, passages: stores.passages, provider: ExtractiveProvider(), systemPrompt: "", budget: ContextBudget(maxMessages: 1, maxTokens: 100))
        var dependencies = APIDependencies(
            stores: stores,
            tokens: await AccessTokens(secret: testSecret, lifetime: .seconds(60)),
            streamTokens: await StreamTokens(secret: testSecret),
            events: EventHub(database: stores.database, events: stores.events, logger: TestDatabase.logger),
            chat: ChatFlow(messages: stores.messages, usage: stores.usage, responder: responder, dailyLimit: nil),
            botChat: ChatFlow(messages: stores.messages, usage: stores.usage, responder: responder, dailyLimit: nil),
            files: FileFlow(stores: stores, queue: JobQueue(database: database, logger: TestDatabase.logger)),
            bcryptCost: 4,
            maxJSONBodyBytes: 1024,
            uploads: UploadLimits(maxFileBytes: 1024, maxRequestBytes: 2048, maxFiles: 1, jobMaxAttempts: 1),
            webRoot: webRoot.path
        )
        // Without METRICS_PORT, `scribe api` serves /metrics on its own router.
        dependencies.metrics = MetricsEndpoint { [] }
        return buildRouter(dependencies)
    }
}
