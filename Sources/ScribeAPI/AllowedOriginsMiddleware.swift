import Hummingbird

/// Cross-origin requests from the configured origins only (`CORS_ORIGINS`):
/// Hummingbird's ``CORSMiddleware`` answers preflights and adds the headers
/// for a listed origin; a request from any other origin passes through with
/// no CORS headers, so browsers keep it from reading the answer.
struct AllowedOriginsMiddleware: RouterMiddleware {
    typealias Context = ScribeRequestContext

    let origins: Set<String>
    let cors = CORSMiddleware<ScribeRequestContext>(
        allowOrigin: .originBased,
        allowHeaders: [.accept, .authorization, .contentType, .origin, .init("X-API-KEY")!, .init("X-Request-ID")!, .init("Idempotency-Key")!, EventController.lastEventIDHeader],
        allowMethods: [.get, .post, .patch, .delete, .head, .options],
        allowCredentials: false,
        exposedHeaders: ["Retry-After", "X-Request-ID", "ETag", "Location"],
        maxAge: .seconds(600)
    )

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains(origin) else {
            return try await next(request, context)
        }
        return try await cors.handle(request, context: context, next: next)
    }
}
