import Hummingbird
import Logging

/// One `info` line per request, after it is answered: method, path, status,
/// duration, and (through the context's logger) the request id.
///
/// The path is logged without its query string, and no header is logged: a
/// query can carry a stream token and headers carry access tokens and keys.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = ScribeRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        context.logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)",
                "path": "\(request.uri.path)",
                "status": "\(response.status.code)",
                "duration_ms": "\(elapsed / .milliseconds(1))",
            ]
        )
        return response
    }
}
