import Foundation
import Hummingbird
import ScribeTestSupport
import Testing

@testable import ScribeAPI

@Suite struct AuthTests {
    @Test func registerLoginAndMe() async throws {
        try await withAPI { api in
            let name = "ada\(UUID().uuidString.prefix(6).lowercased())"
            let registered = try await api.send(
                .post, "/v1/auth/register",
                json: ["email": "\(name)@Example.com", "username": name, "password": "analytical engine"]
            )
            #expect(registered.status == .created)
            #expect(registered["token_type"] as? String == "Bearer")
            #expect((registered["expires_in"] as? Int ?? 0) > 0)
            #expect(registered.json.description.contains("password") == false)

            let byEmail = try await api.send(.post, "/v1/auth/login", json: ["email": "\(name)@example.COM", "password": "analytical engine"])
            #expect(byEmail.status == .ok)
            let byUsername = try await api.send(.post, "/v1/auth/login", json: ["username": name.uppercased(), "password": "analytical engine"])
            #expect(byUsername.status == .ok)
            let token = try #require(byUsername["access_token"] as? String)

            let me = try await api.send(.get, "/v1/me", token: token)
            #expect(me.status == .ok)
            #expect(me["username"] as? String == name)
            #expect(me["email"] as? String == "\(name)@Example.com")
        }
    }

    @Test func wrongPasswordAndUnknownUserAreTheSame401() async throws {
        try await withAPI { api in
            let name = "bob\(UUID().uuidString.prefix(6).lowercased())"
            _ = try await api.send(.post, "/v1/auth/register", json: ["email": "\(name)@example.com", "password": "hunter2hunter2"])
            let wrong = try await api.send(.post, "/v1/auth/login", json: ["email": "\(name)@example.com", "password": "nope nope nope"])
            let unknown = try await api.send(.post, "/v1/auth/login", json: ["email": "nobody-\(name)@example.com", "password": "nope nope nope"])
            #expect(wrong.status == .unauthorized)
            #expect(unknown.status == .unauthorized)
            #expect(wrong.errorCode == "invalid_credentials")
            #expect(unknown.errorCode == wrong.errorCode)
        }
    }

    @Test func duplicateEmailOrUsernameIs409() async throws {
        try await withAPI { api in
            let name = "cy\(UUID().uuidString.prefix(6).lowercased())"
            let first = try await api.send(
                .post, "/v1/auth/register", json: ["email": "\(name)@example.com", "username": name, "password": "difference engine"])
            #expect(first.status == .created)
            let sameEmail = try await api.send(
                .post, "/v1/auth/register", json: ["email": "\(name.uppercased())@EXAMPLE.com", "password": "difference engine"])
            #expect(sameEmail.status == .conflict)
            #expect(sameEmail.errorField == "email")
            let sameUsername = try await api.send(
                .post, "/v1/auth/register",
                json: ["email": "other-\(name)@example.com", "username": name.uppercased(), "password": "difference engine"])
            #expect(sameUsername.status == .conflict)
            #expect(sameUsername.errorField == "username")
        }
    }

    @Test(arguments: [
        (["email": "not-an-email", "password": "long enough pw"], "email"),
        (["email": "a@b", "password": "long enough pw"], "email"),
        (["email": "x@example.com", "password": "short"], "password"),
        (["email": "x@example.com", "password": "aaaaaaaaaaaa"], "password"),
        (["email": "x@example.com", "password": String(repeating: "ab", count: 40)], "password"),
        (["email": "x@example.com", "username": "no spaces!", "password": "long enough pw"], "username"),
    ])
    func invalidRegistrationNamesTheField(_ body: [String: String], field: String) async throws {
        try await withAPI { api in
            let reply = try await api.send(.post, "/v1/auth/register", json: body)
            #expect(reply.status == .unprocessableContent)
            #expect(reply.errorField == field)
        }
    }

    @Test func malformedOrIncompleteJSONIs400() async throws {
        try await withAPI { api in
            let broken = try await api.send(.post, "/v1/auth/register", raw: "{\"email\": ")
            #expect(broken.status == .badRequest)
            #expect(broken.errorCode == "bad_request")
            let missing = try await api.send(.post, "/v1/auth/register", json: ["email": "x@example.com"])
            #expect(missing.status == .badRequest)
            #expect(missing.errorField == "password")
            let wrongType = try await api.send(.post, "/v1/auth/login", json: ["email": "x@example.com", "password": 12])
            #expect(wrongType.status == .badRequest)
            let empty = try await api.send(.post, "/v1/auth/login")
            #expect(empty.status == .badRequest)
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await withAPI { api in
            let huge = String(repeating: "x", count: 100 * 1024)
            let reply = try await api.send(.post, "/v1/auth/register", json: ["email": "x@example.com", "password": huge])
            #expect(reply.status == .contentTooLarge)
            #expect(reply.errorCode == "payload_too_large")
        }
    }

    @Test func missingTamperedExpiredAndUnsignedTokensAre401() async throws {
        try await withAPI { api in
            let (token, id) = try await api.registerUser()
            #expect(try await api.send(.get, "/v1/me", token: token).status == .ok)

            let missing = try await api.send(.get, "/v1/me")
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] != nil)

            // Flip one character of the signature.
            var tampered = Array(token)
            tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
            let badSignature = try await api.send(.get, "/v1/me", token: String(tampered))
            #expect(badSignature.status == .unauthorized)
            #expect(badSignature.errorCode == "invalid_token")

            // A token for another user id, with the original signature.
            let parts = token.split(separator: ".")
            let forged: [String] = [String(parts[0]), Self.base64URL(#"{"sub":"\#(UUID().uuidString)","exp":9999999999,"iat":1}"#), String(parts[2])]
            #expect(try await api.send(.get, "/v1/me", token: forged.joined(separator: ".")).status == .unauthorized)

            let expired = try await api.tokens.issue(for: try #require(UUID(uuidString: id)), now: Date().addingTimeInterval(-7200))
            let expiredReply = try await api.send(.get, "/v1/me", token: expired)
            #expect(expiredReply.status == .unauthorized)
            #expect((expiredReply.json["error"] as? [String: Any])?["message"] as? String == "The access token has expired; log in again.")

            let unsigned = Self.base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + parts[1] + "."
            let none = try await api.send(.get, "/v1/me", token: unsigned)
            #expect(none.status == .unauthorized)

            #expect(try await api.send(.get, "/v1/me", token: "garbage").status == .unauthorized)
        }
    }

    @Test func aVerifiedTokenStillExpires() async throws {
        let tokens = await AccessTokens(secret: testSecret, lifetime: .seconds(1))
        let user = UUID()
        let token = try await tokens.issue(for: user)
        #expect(try await tokens.verify(token) == user)
        #expect(try await tokens.verify(token) == user, "served from the verified-token cache")
        try await Task.sleep(for: .milliseconds(1500))
        await #expect(throws: AccessTokens.Rejection.self) { try await tokens.verify(token) }
    }

    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
