import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Who sent the request and under what id, for logs, audit and limits:
///
/// - the request id: the client's `X-Request-ID` when it is a short token of
///   letters, digits, `.`, `_` and `-`, else Hummingbird's own; it is put in
///   every log line of the request (`request_id`), sent back as
///   `X-Request-ID`, and carried into the jobs the request creates;
/// - the client's address: the connection's peer, or, behind a trusted proxy
///   (`TRUST_PROXY`), the last address of `X-Forwarded-For`, the one that
///   proxy added;
/// - whether the client used TLS, as a trusted proxy's `X-Forwarded-Proto` says.
struct RequestMetadataMiddleware: RouterMiddleware {
    typealias Context = ScribeRequestContext

    /// Whether to believe `X-Forwarded-For` and `X-Forwarded-Proto`: only
    /// behind a proxy that sets them, or clients could choose their address.
    let trustProxy: Bool

    static let requestIDHeader = HTTPField.Name("X-Request-ID")!
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestID = request.headers[Self.requestIDHeader].flatMap(Self.usableRequestID) ?? context.id
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = "\(requestID)"
        context.clientAddress = clientAddress(of: request, peer: context.remoteAddress)
        context.isSecure = trustProxy && request.headers[Self.forwardedProto]?.lowercased() == "https"
        var response = try await next(request, context)
        response.headers[Self.requestIDHeader] = requestID
        return response
    }

    /// `value` when it can go into logs and headers as it is.
    static func usableRequestID(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F })
        else { return nil }
        return value
    }

    func clientAddress(of request: Request, peer: SocketAddress?) -> String? {
        if trustProxy, let forwarded = request.headers[values: Self.forwardedFor].last {
            let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces) ?? ""
            if !last.isEmpty, last.utf8.count <= 64 { return last }
        }
        return peer?.ipAddress
    }
}
