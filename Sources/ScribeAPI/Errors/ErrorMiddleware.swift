import Foundation
import Hummingbird
import Logging
import ScribePostgres
import ScribeStore

/// Turns every error a route throws into the API's JSON error shape, so no
/// response ever carries Hummingbird's default body, a stack trace or a 500
/// for bad input. A database that cannot be reached is a 503 with
/// `Retry-After`, never a 500 or a hang. Unexpected errors are logged (without
/// request data) and answered with a generic 500.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            return try Self.apiError(for: error).response(from: request, context: context)
        } catch let error as DatabaseError where error.code == .unavailable {
            return try APIError.databaseUnavailable.response(from: request, context: context)
        } catch let error as DecodingError {
            return try Self.apiError(for: error).response(from: request, context: context)
        } catch let error as DailyLimitReached {
            return try APIError.dailyLimitReached(error).response(from: request, context: context)
        } catch let error as FilesInFlightLimitReached {
            return try APIError.filesInFlightLimitReached(error).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            return try APIError(error.status, code: Self.code(for: error.status), message: error.status.reasonPhrase)
                .response(from: request, context: context)
        } catch {
            context.logger.error(
                "unhandled error",
                metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"]
            )
            return try APIError(.internalServerError, code: "internal", message: "Something went wrong on our side.")
                .response(from: request, context: context)
        }
    }

    static func apiError(for error: HTTPError) -> APIError {
        var message = error.body ?? error.status.reasonPhrase
        if error.status == .contentTooLarge { message = "The request body is too large." }
        if error.status == .notFound, error.body == nil { message = "No such route." }
        return APIError(error.status, code: code(for: error.status), message: message, headers: error.headers)
    }

    /// A readable 400 for a body that is not the JSON the route expects.
    static func apiError(for error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey]) -> String? {
            let path = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? nil : path.snakeCased
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key]) ?? key.stringValue.snakeCased
            return .badRequest("The field '\(field)' is required.", field: field)
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let field = path(context.codingPath)
            return .badRequest("The field '\(field ?? "body")' has the wrong type.", field: field)
        case .dataCorrupted(let context):
            if let field = path(context.codingPath) {
                return .badRequest("The field '\(field)' is not valid.", field: field)
            }
            return .badRequest("The request body is not valid JSON.")
        @unknown default:
            return .badRequest("The request body is not valid JSON.")
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 422: "unprocessable"
        case 429: "rate_limited"
        case 503: "unavailable"
        default: status.code >= 500 ? "internal" : "error"
        }
    }
}

extension String {
    /// `conversationId` → `conversation_id`, to name fields as clients send them.
    var snakeCased: String {
        var result = ""
        for character in self {
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }
}
