import HTTPTypes
import Hummingbird
import HummingbirdAuth
import ScribePostgres
import ScribeStore

/// Requires a valid `X-API-KEY` with `scope` and puts the key in the context:
/// the routes behind it act for the key's people. A missing, malformed,
/// unknown or revoked key is the same 401, answered before the route runs.
struct ServiceKeyAuthenticator: RouterMiddleware {
    typealias Context = ScribeRequestContext
    let keys: ServiceKeyStore
    /// What the key must be allowed to do: `chat` or `files`.
    let scope: String

    static let header = HTTPField.Name("X-API-KEY")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let sent = request.headers[Self.header] else { throw Self.missingKey }
        let secret = ServiceKeySecret(sent)
        guard secret.isWellFormed,
            let key = try await keys.useServiceKey(
                hash: secret.hash,
                origin: AuditOrigin(address: context.clientAddress, requestID: context.requestID)
            )
        else { throw Self.invalidKey }
        guard key.scopes.contains(scope) else {
            throw APIError(.forbidden, code: "insufficient_scope", message: "This service key may not use '\(scope)'.")
        }
        var context = context
        context.serviceKey = key
        context.logger[metadataKey: "service_key"] = "\(key.prefix)"
        return try await next(request, context)
    }

    static let missingKey = APIError(
        .unauthorized,
        code: "unauthorized",
        message: "Send a service key as 'X-API-KEY: <key>'.",
        headers: [.wwwAuthenticate: "ApiKey"]
    )

    static let invalidKey = APIError(
        .unauthorized,
        code: "invalid_key",
        message: "The service key is not valid (unknown or revoked).",
        headers: [.wwwAuthenticate: "ApiKey"]
    )
}
