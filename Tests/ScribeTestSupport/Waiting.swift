import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Checks `condition` every `interval` until it holds, at most `timeout`;
/// returns when it first held. A condition that throws counts as not yet
/// (the service it asks may be starting, or away on purpose); the last error
/// is in the failure.
@discardableResult
public func waitUntil(
    _ what: String,
    timeout: Duration = .seconds(60),
    every interval: Duration = .milliseconds(100),
    _ condition: () async throws -> Bool
) async throws -> ContinuousClock.Instant {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if try await condition() { return .now }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: interval)
    }
    throw HarnessError("waited \(timeout) for \(what)" + (lastError.map { "; last error: \($0)" } ?? ""))
}

/// An HTTP answer from a real server, with its body as JSON when it is an object.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    public var json: [String: any Sendable]

    /// The body as text.
    public var text: String { String(buffer: body) }
    /// `error.code` of an error answer.
    public var errorCode: String? { (json["error"] as? [String: any Sendable])?["code"] as? String }
}

/// Sends one request over real HTTP: `token` as a bearer, `json` as the
/// body (or `body` as is), and waits at most `timeout`, far beyond what any
/// answer may take, so that a hang shows as a failure.
public func send(
    _ method: HTTPMethod,
    _ url: String,
    token: String? = nil,
    headers: [(String, String)] = [],
    json: [String: Any]? = nil,
    body: ByteBuffer? = nil,
    timeout: Duration = .seconds(30),
    maxBytes: Int = 4 << 20,
    client: HTTPClient = .shared
) async throws -> HTTPReply {
    var request = HTTPClientRequest(url: url)
    request.method = method
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let json {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: json)))
    } else if let body {
        request.body = .bytes(body)
    }
    let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
    let bytes = try await response.body.collect(upTo: maxBytes)
    let json = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: any Sendable] ?? [:]
    return HTTPReply(status: Int(response.status.code), headers: response.headers, body: bytes, json: json)
}
