import Hummingbird
import HummingbirdAuth

/// Requires a valid `Authorization: Bearer <token>` and puts its user in the context.
///
/// Every route behind it is private: a missing or bad token answers 401 at once
/// with a short reason, before the route runs.
struct BearerAuthenticator: AuthenticatorMiddleware {
    typealias Context = ScribeRequestContext
    let tokens: AccessTokens

    func authenticate(request: Request, context: Context) async throws -> AuthenticatedUser? {
        guard let user = try await Self.user(bearing: request, tokens: tokens) else { throw Self.missingToken }
        return user
    }

    /// The user of the request's bearer token; nil when it sends none. A bad
    /// or expired token is a 401 with its reason.
    static func user(bearing request: Request, tokens: AccessTokens) async throws(APIError) -> AuthenticatedUser? {
        guard let bearer = request.headers.bearer else { return nil }
        do {
            return AuthenticatedUser(id: try await tokens.verify(bearer.token))
        } catch {
            throw APIError(
                .unauthorized,
                code: "invalid_token",
                message: error.message,
                headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""]
            )
        }
    }

    static let missingToken = APIError(
        .unauthorized,
        code: "unauthorized",
        message: "Send an access token as 'Authorization: Bearer <token>'.",
        headers: [.wwwAuthenticate: "Bearer"]
    )
}
