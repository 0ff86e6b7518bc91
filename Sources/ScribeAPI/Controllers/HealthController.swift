import Hummingbird
import ScribePostgres

/// `GET /health` (the process answers) and `GET /ready` (the database answers too).
struct HealthController {
    let database: Database

    struct Status: ResponseEncodable {
        var status: String
    }

    func addRoutes(to router: Router<ScribeRequestContext>) {
        router.get("health") { _, _ in Status(status: "ok") }
        router.get("ready", use: ready)
    }

    @Sendable func ready(_ request: Request, context: ScribeRequestContext) async throws -> Status {
        do {
            try await database.ping(timeout: .seconds(2))
        } catch {
            throw APIError(
                .serviceUnavailable,
                code: "not_ready",
                message: "The database is not reachable.",
                headers: [.retryAfter: "2"]
            )
        }
        return Status(status: "ready")
    }
}
