import HTTPTypes
import Hummingbird

/// Headers every response carries, the page's above all: a strict
/// Content-Security-Policy (scripts, styles and connections only from this
/// origin, no inline script or style, no framing), no MIME sniffing, and no
/// referrer (a URL never leaks to another site); and, for a client that came
/// over TLS, Strict-Transport-Security.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = ScribeRequestContext

    /// How long browsers should use only HTTPS, sent on requests that came
    /// over TLS (as a trusted proxy reports); nil: never sent.
    var strictTransportSecurityMaxAge: Int?

    static let contentSecurityPolicy = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ].joined(separator: "; ")

    static let policyHeader = HTTPField.Name("Content-Security-Policy")!
    static let contentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let strictTransportSecurity = HTTPField.Name("Strict-Transport-Security")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[Self.policyHeader] = Self.contentSecurityPolicy
        response.headers[Self.contentTypeOptions] = "nosniff"
        response.headers[Self.referrerPolicy] = "no-referrer"
        if context.isSecure, let maxAge = strictTransportSecurityMaxAge {
            response.headers[Self.strictTransportSecurity] = "max-age=\(maxAge); includeSubDomains"
        }
        return response
    }
}
