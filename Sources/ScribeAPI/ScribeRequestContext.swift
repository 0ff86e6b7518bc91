import Foundation
import Hummingbird
import HummingbirdAuth

/// The request context of every Scribe route: Hummingbird's core storage, the
/// authenticated user once the bearer token checks out, and snake_case JSON.
public struct ScribeRequestContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The user the access token names; nil on public routes.
    public var identity: AuthenticatedUser?

    /// The largest JSON body `request.decode` collects; set per application by
    /// ``JSONBodyLimitMiddleware``. Uploads read their bodies with their own limits.
    public var maxUploadSize: Int

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        maxUploadSize = 1 << 20
    }

    public var requestDecoder: JSONDecoder { JSONCoding.decoder }
    public var responseEncoder: JSONEncoder { JSONCoding.encoder }
}

/// The user an access token was issued to.
public struct AuthenticatedUser: Sendable, Hashable {
    public var id: UUID
}

/// The API's JSON conventions: snake_case keys, shared coders (created once, not per request).
enum JSONCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()
}

/// Sets the JSON body limit of every request from the configuration.
struct JSONBodyLimitMiddleware: RouterMiddleware {
    typealias Context = ScribeRequestContext
    let limit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.maxUploadSize = limit
        return try await next(request, context)
    }
}
