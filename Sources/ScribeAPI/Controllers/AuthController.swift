import Foundation
import Hummingbird
import ScribePostgres
import ScribeStore

/// `POST /v1/auth/register`, `POST /v1/auth/login`, `GET /v1/me`.
///
/// Registrations and logins (each success and failure) are audited; failed
/// logins are slowed down, then refused for a while (``LoginThrottle``).
struct AuthController {
    let users: UserStore
    let audit: AuditStore
    let tokens: AccessTokens
    let passwords: PasswordHasher
    let throttle: LoginThrottle

    struct RegisterRequest: Decodable {
        var email: String
        var username: String?
        var password: String
    }

    struct LoginRequest: Decodable {
        var email: String?
        var username: String?
        var login: String?
        var password: String
    }

    func addPublicRoutes(to group: RouterGroup<ScribeRequestContext>) {
        group.post("auth/register", use: register)
        group.post("auth/login", use: login)
    }

    func addPrivateRoutes(to group: RouterGroup<ScribeRequestContext>) {
        group.get("me", use: me)
    }

    @Sendable func register(_ request: Request, context: ScribeRequestContext) async throws -> EditedResponse<SessionResponse> {
        let input = try await request.decodeJSON(as: RegisterRequest.self, context: context)
        let email = try Validation.email(input.email)
        let username = try input.username.map(Validation.username)
        try Validation.password(input.password, email: email)
        let hash = try await passwords.hash(input.password)
        let user: User
        do {
            user = try await users.createUser(email: email, username: username, passwordHash: hash, origin: context.auditOrigin)
        } catch let error as StoreError where error.code == .conflict {
            let field = error.field ?? "email"
            throw APIError(.conflict, code: "\(field)_taken", message: "That \(field) is already registered.", field: field)
        }
        return EditedResponse(status: .created, response: try await session(for: user))
    }

    @Sendable func login(_ request: Request, context: ScribeRequestContext) async throws -> SessionResponse {
        let input = try await request.decodeJSON(as: LoginRequest.self, context: context)
        guard let login = (input.email ?? input.username ?? input.login)?.trimmingCharacters(in: .whitespaces), !login.isEmpty else {
            throw APIError.badRequest("Send 'email' or 'username' with 'password'.", field: "email")
        }
        let subjects = LoginThrottle.subjects(login: login, address: context.clientAddress)
        // While locked out, nothing is checked or written: a flood costs one read each.
        try await throttle.check(subjects)
        let found = try await users.credentials(login: login)
        guard try await passwords.verify(input.password, against: found?.passwordHash), let user = found?.user else {
            // Who it was, only if such an account exists: the typed login may be a password.
            try await audit.recordAudit(AuditEvent(action: .loginFailed, userID: found?.user.id, origin: context.auditOrigin))
            let holdBack: Duration
            do {
                holdBack = try await throttle.recordFailure(subjects)
            } catch let lockout as APIError {
                // This failure started a lockout: recorded once, not for each refused try after it.
                try await audit.recordAudit(AuditEvent(action: .loginThrottled, userID: found?.user.id, origin: context.auditOrigin))
                throw lockout
            }
            if holdBack > .zero { try await Task.sleep(for: holdBack) }
            throw APIError(.unauthorized, code: "invalid_credentials", message: "The email, username or password is wrong.")
        }
        try await throttle.recordSuccess(subjects)
        try await audit.recordAudit(AuditEvent(action: .loginSucceeded, userID: user.id, origin: context.auditOrigin))
        return try await session(for: user)
    }

    @Sendable func me(_ request: Request, context: ScribeRequestContext) async throws -> UserResponse {
        let identity = try context.requireIdentity()
        guard let user = try await users.user(id: identity.id) else { throw APIError.unauthorized }
        return UserResponse(user)
    }

    private func session(for user: User) async throws -> SessionResponse {
        SessionResponse(
            user: UserResponse(user),
            accessToken: try await tokens.issue(for: user.id),
            expiresIn: tokens.lifetime.components.seconds
        )
    }
}

/// Checks on what people type, each failing with a 422 that names the field.
enum Validation {
    static func email(_ raw: String) throws(APIError) -> String {
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty,
            parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            !email.contains(where: { $0.isWhitespace || $0.isNewline })
        else {
            throw .invalid("email", code: "invalid_email", "'email' must be an email address like name@example.com.")
        }
        return email
    }

    static func username(_ raw: String) throws(APIError) -> String {
        let username = raw.trimmingCharacters(in: .whitespaces)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_.-"))
        guard (3...32).contains(username.count), username.unicodeScalars.allSatisfy(allowed.contains), !username.contains("@") else {
            throw .invalid(
                "username",
                code: "invalid_username",
                "'username' must be 3 to 32 letters, digits, '_', '.' or '-'."
            )
        }
        return username
    }

    static func password(_ password: String, email: String) throws(APIError) {
        guard password.count >= 8 else {
            throw .invalid("password", code: "weak_password", "'password' must be at least 8 characters long.")
        }
        // bcrypt reads only the first 72 bytes: refuse longer rather than silently ignore the rest.
        guard password.utf8.count <= 72 else {
            throw .invalid("password", code: "weak_password", "'password' must be at most 72 bytes long.")
        }
        guard Set(password).count >= 4, password.lowercased() != email.lowercased() else {
            throw .invalid("password", code: "weak_password", "'password' is too easy to guess; use a longer, varied one.")
        }
    }
}
