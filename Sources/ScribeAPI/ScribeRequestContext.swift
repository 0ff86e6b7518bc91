import Foundation
import Hummingbird
import HummingbirdAuth
import NIOCore
import ScribePostgres
import ScribeStore

/// The request context of every Scribe route: Hummingbird's core storage, the
/// authenticated user once the bearer token checks out, and snake_case JSON.
public struct ScribeRequestContext: AuthRequestContext, RemoteAddressRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The user the access token names; nil on public routes.
    public var identity: AuthenticatedUser?
    /// The service key a bot sent as `X-API-KEY`; nil on every other route.
    public var serviceKey: ServiceKey?

    /// The peer of the connection (the proxy's, behind one).
    public let remoteAddress: SocketAddress?
    /// Where the request came from, set by ``RequestMetadataMiddleware``:
    /// the peer's address, or the one a trusted proxy reports.
    public var clientAddress: String?
    /// This request's id: the client's `X-Request-ID` when it sent a usable
    /// one, else Hummingbird's; in every log line of the request and in the
    /// jobs it creates.
    public var requestID: String
    /// Whether the client reached us over TLS (as a trusted proxy reports).
    public var isSecure: Bool

    /// The largest JSON body `request.decode` collects; set per application by
    /// ``JSONBodyLimitMiddleware``. Uploads read their bodies with their own limits.
    public var maxUploadSize: Int

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        serviceKey = nil
        maxUploadSize = 1 << 20
        remoteAddress = source.channel.remoteAddress
        clientAddress = nil
        requestID = ""
        isSecure = false
    }

    /// Where an audited action of this request comes from.
    public var auditOrigin: AuditOrigin { AuditOrigin(address: clientAddress, requestID: requestID) }

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
