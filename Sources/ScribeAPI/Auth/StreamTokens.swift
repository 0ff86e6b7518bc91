import Foundation
import JWTKit

/// Short-lived, single-purpose tokens for one conversation's event stream.
///
/// A browser's `EventSource` cannot send an `Authorization` header, and an
/// access token must never travel in a URL (it would land in logs and
/// history). `POST /v1/conversations/{id}/events/token` trades an access token
/// for one of these, which opens only that conversation's stream, only for
/// its owner, and only for ``lifetime``. They are signed with a key derived
/// from the secret for this purpose alone, so one can never pass as an access
/// token, nor an access token as one.
public struct StreamTokens: Sendable {
    struct Payload: JWTPayload {
        var sub: SubjectClaim
        /// The conversation whose stream it opens.
        var cid: String
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    /// What a valid token opens.
    public struct Grant: Sendable, Equatable {
        public var userID: UUID
        public var conversationID: UUID
    }

    let keys: JWTKeyCollection
    /// How long a token lives.
    public let lifetime: Duration

    public init(secret: String, lifetime: Duration = .seconds(60)) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: "scribe event stream|" + secret), digestAlgorithm: .sha256)
        self.lifetime = lifetime
    }

    /// A token opening `conversationID`'s stream for `userID`.
    public func issue(userID: UUID, conversationID: UUID, now: Date = Date()) async throws -> String {
        try await keys.sign(
            Payload(
                sub: SubjectClaim(value: userID.uuidString.lowercased()),
                cid: conversationID.uuidString.lowercased(),
                exp: ExpirationClaim(value: now.addingTimeInterval(TimeInterval(lifetime.components.seconds)))
            )
        )
    }

    /// What `token` opens, or nil when it is not a valid, unexpired stream token.
    public func verify(_ token: String) async -> Grant? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count < 2048, parts.count == 3, AccessTokens.decodeHeader(parts[0])?.alg == AccessTokens.algorithm,
            let payload = try? await keys.verify(token, as: Payload.self),
            let userID = UUID(uuidString: payload.sub.value), let conversationID = UUID(uuidString: payload.cid)
        else { return nil }
        return Grant(userID: userID, conversationID: conversationID)
    }
}
