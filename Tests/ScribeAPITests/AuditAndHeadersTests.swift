import Foundation
import HTTPTypes
import Hummingbird
import ScribeAPI
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// The audit trail, request ids, HSTS and CORS.
@Suite struct AuditAndHeadersTests {
    static let requestID = HTTPField.Name("X-Request-ID")!
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    @Test func whoDidWhatFromWhereIsAuditedWithoutSecrets() async throws {
        try await withAPI(http: HTTPPolicy(trustProxy: true)) { api in
            let name = "audit\(UUID().uuidString.prefix(8).lowercased())"
            let password = "correct horse battery"
            let address = "203.0.113.\(Int.random(in: 1...254))"
            let from: HTTPFields = [Self.forwardedFor: "198.51.100.7, \(address)"]
            var headers = from
            headers[Self.requestID] = "req-\(name)"
            let registered = try await api.send(.post, "/v1/auth/register", json: ["email": "\(name)@example.com", "password": password], headers: headers)
            let token = try #require(registered["access_token"] as? String)
            let userID = try #require((registered["user"] as? [String: Any])?["id"] as? String).lowercased()
            _ = try await api.send(.post, "/v1/auth/login", json: ["login": name + "@example.com", "password": "not the password"], headers: from)
            _ = try await api.send(.post, "/v1/auth/login", json: ["login": password, "password": password], headers: from)
            _ = try await api.send(.post, "/v1/auth/login", json: ["login": name + "@example.com", "password": password], headers: from)
            let conversation = try await api.createConversation(token)
            #expect(try await api.send(.delete, "/v1/conversations/\(conversation)", token: token, headers: from).status == .noContent)
            let keyName = "audited-\(name)"
            let key = try await api.createServiceKey(name: keyName)
            _ = try await api.botSend(key: key, ["telegram_id": 5, "message": "hi"], headers: from)
            _ = try await api.botSend(key: key, ["telegram_id": 5, "message": "hi again"], headers: from)
            let stored = try #require(try await api.stores.serviceKeys.serviceKeys().first { $0.name == keyName })
            #expect(try await api.stores.serviceKeys.revokeServiceKey(id: stored.id))

            let events = try await api.stores.audit.auditEvents(limit: 1000)
            let mine = events.filter { $0.userID?.uuidString.lowercased() == userID }
            #expect(Set(mine.map(\.action)) == [.userRegistered, .loginFailed, .loginSucceeded, .conversationDeleted])
            let registration = try #require(mine.first { $0.action == .userRegistered })
            #expect(registration.origin.address == address, "the address the trusted proxy added")
            #expect(registration.origin.requestID == "req-\(name)")
            #expect(mine.first { $0.action == .conversationDeleted }?.detail["conversation_id"] == conversation)
            // The failure with the password typed as the login names nobody and keeps nothing typed.
            let anonymous = events.filter { $0.action == .loginFailed && $0.userID == nil && $0.origin.address == address }
            #expect(anonymous.count == 1)

            let keyEvents = events.filter { $0.serviceKeyID == stored.id }.map(\.action)
            #expect(keyEvents.sorted { $0.rawValue < $1.rawValue } == [.keyCreated, .keyRevoked, .keyUsed], "a key's use is noted once a minute")

            let everything = events.map { "\($0)" }.joined(separator: "\n")
            for secret in [password, token, key, String(key.dropFirst(12))] {
                #expect(!everything.contains(secret))
            }
        }
    }

    @Test func requestIDsAreEchoedLoggedAndCarriedIntoJobs() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let sent = try await api.send(.get, "/v1/me", token: token, headers: [Self.requestID: "client-abc.123_X"])
            #expect(sent.headers[Self.requestID] == "client-abc.123_X")
            let unusable = try await api.send(.get, "/v1/me", token: token, headers: [Self.requestID: "bad id\" with spaces"])
            let replaced = try #require(unusable.headers[Self.requestID])
            #expect(!replaced.isEmpty && !replaced.contains(" "))
            let errors = try await api.send(.get, "/v1/nowhere", token: token)
            #expect(errors.headers[Self.requestID] != nil, "errors carry one too")

            let conversation = try await api.createConversation(token)
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[Self.requestID] = "upload-\(conversation)"
            let note = APIClient.FilePart(filename: "n.txt", contentType: "text/plain", bytes: Array("Noon.".utf8))
            let upload = try await api.upload(token: token, conversationID: conversation, files: [note], requestID: "upload-\(conversation)")
            let story = try await api.send(.get, "/v1/jobs/\(try #require(upload["job_id"] as? String))", token: token)
            let stage = try #require((story["stages"] as? [[String: Any]])?.first?["id"] as? String)
            #expect(try await api.jobMetadata(stage)["request_id"] == "upload-\(conversation)")
        }
    }

    @Test func strictTransportSecurityOnlyOverTLSFromATrustedProxy() async throws {
        try await withAPI(http: HTTPPolicy(trustProxy: true, strictTransportSecurityMaxAge: 600)) { api in
            let secure = try await api.send(.get, "/health", headers: [Self.forwardedProto: "https"])
            #expect(secure.headers[HTTPField.Name("Strict-Transport-Security")!] == "max-age=600; includeSubDomains")
            let plain = try await api.send(.get, "/health")
            #expect(plain.headers[HTTPField.Name("Strict-Transport-Security")!] == nil)
            #expect(plain.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
        }
        try await withAPI(http: HTTPPolicy(trustProxy: false, strictTransportSecurityMaxAge: 600)) { api in
            let spoofed = try await api.send(.get, "/health", headers: [Self.forwardedProto: "https"])
            #expect(spoofed.headers[HTTPField.Name("Strict-Transport-Security")!] == nil, "an untrusted header is ignored")
        }
    }

    @Test func corsAnswersOnlyTheConfiguredOrigins() async throws {
        try await withAPI(http: HTTPPolicy(corsOrigins: ["https://app.example.com"])) { api in
            let preflight = try await api.send(
                .options, "/v1/chat",
                headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"]
            )
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)
            let allowed = try await api.send(.get, "/health", headers: [.origin: "https://app.example.com"])
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://app.example.com")
            let other = try await api.send(.get, "/health", headers: [.origin: "https://evil.example.net"])
            #expect(other.headers[.accessControlAllowOrigin] == nil)
        }
        try await withAPI { api in
            let none = try await api.send(.get, "/health", headers: [.origin: "https://app.example.com"])
            #expect(none.headers[.accessControlAllowOrigin] == nil, "no CORS unless configured")
        }
    }
}
