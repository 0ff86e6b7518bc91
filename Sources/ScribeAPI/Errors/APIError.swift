import Foundation
import Hummingbird

/// An error the API answers with: a status and `{"error": {"code", "message"}}`.
///
/// `code` is stable and machine-readable; `message` is a sentence for people and
/// never carries secrets, stack traces or another user's data.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// The request field at fault, for validation errors.
    public var field: String?
    /// Extra response headers, e.g. `Retry-After`.
    public var headers: HTTPFields
    /// For a limit reached: the limit.
    public var limit: Int?
    /// For a limit reached: when it starts again (ISO 8601, UTC).
    public var resetAt: String?

    public init(
        _ status: HTTPResponse.Status,
        code: String,
        message: String,
        field: String? = nil,
        headers: HTTPFields = [:],
        limit: Int? = nil,
        resetAt: String? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
        self.limit = limit
        self.resetAt = resetAt
    }

    /// The body: `{"error": {"code", "message", "field"?, "limit"?, "reset_at"?}}`.
    var body: Body { Body(error: .init(code: code, message: message, field: field, limit: limit, resetAt: resetAt)) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = self.body
        let data = try JSONCoding.encoder.encode(body)
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(data.count)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var field: String?
            var limit: Int?
            var resetAt: String?
        }
        var error: Detail
    }
}

extension APIError {
    static let unauthorized = APIError(.unauthorized, code: "unauthorized", message: "A valid bearer token is required.")

    /// The database cannot be reached or did not answer in time: nothing was
    /// done, and the same request may be sent again shortly.
    static let databaseUnavailable = APIError(
        .serviceUnavailable,
        code: "database_unavailable",
        message: "Scribe cannot reach its database right now. Nothing was changed; please try again in a few seconds.",
        headers: [.retryAfter: "2"]
    )

    static func notFound(_ what: String) -> APIError {
        APIError(.notFound, code: "not_found", message: "\(what) not found.")
    }

    static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, code: "bad_request", message: message, field: field)
    }

    static func invalid(_ field: String, code: String, _ message: String) -> APIError {
        APIError(.unprocessableContent, code: code, message: message, field: field)
    }
}
