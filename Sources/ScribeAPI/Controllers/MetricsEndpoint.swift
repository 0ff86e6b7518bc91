import Crypto
import Foundation
import Hummingbird

/// `GET /metrics`: the process's metrics in Prometheus' text format.
///
/// The API knows nothing of the metrics backend: whoever owns the registry
/// (the `scribe` executable) gives the closure that renders it. Served on the
/// API's router by default, or on a port of its own (`METRICS_PORT`). With a
/// token, a scrape must send `Authorization: Bearer <token>`.
public struct MetricsEndpoint: Sendable {
    /// The bearer token a scrape must send (`METRICS_TOKEN`); nil: none needed.
    public var token: String?
    /// The metrics, rendered in Prometheus' text exposition format 0.0.4.
    public var render: @Sendable () -> [UInt8]

    public init(token: String? = nil, render: @escaping @Sendable () -> [UInt8]) {
        self.token = token
        self.render = render
    }

    /// Adds `GET /metrics` to `router`.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("metrics") { request, _ in try respond(to: request) }
    }

    func respond(to request: Request) throws -> Response {
        if let token, !Self.bearer(request.headers[.authorization], matches: token) {
            throw APIError(
                .unauthorized,
                code: "unauthorized",
                message: "Scraping the metrics needs the bearer token set in METRICS_TOKEN.",
                headers: [.wwwAuthenticate: "Bearer"]
            )
        }
        let bytes = render()
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .contentLength: String(bytes.count), .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }

    /// Whether `header` is `Bearer <token>`, compared in constant time (as digests).
    static func bearer(_ header: String?, matches token: String) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        return SHA256.hash(data: Data(header.dropFirst(7).utf8)) == SHA256.hash(data: Data(token.utf8))
    }
}
