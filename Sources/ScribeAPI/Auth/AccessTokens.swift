import Foundation
import JWTKit
import Synchronization

/// Issues and checks the API's access tokens: HS256 JWTs whose subject is the user id.
///
/// The algorithm is pinned: a token is only verified when its header says
/// `HS256`, so `alg: none` or a swapped algorithm is refused before any key is
/// consulted, and `exp` is always checked.
public struct AccessTokens: Sendable {
    /// What a token says.
    struct Payload: JWTPayload {
        var sub: SubjectClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    /// Why a token was refused; each maps to a short, clear 401.
    public enum Rejection: Error, Sendable {
        case malformed, wrongAlgorithm, badSignature, expired

        var message: String {
            switch self {
            case .malformed: "The access token is malformed."
            case .wrongAlgorithm: "The access token uses an algorithm this server does not accept."
            case .badSignature: "The access token's signature is not valid."
            case .expired: "The access token has expired; log in again."
            }
        }
    }

    static let algorithm = "HS256"

    let keys: JWTKeyCollection
    let verified = VerifiedTokens()
    /// How long a new token lives.
    public let lifetime: Duration

    /// Creates the token service. `secret` must be at least 32 bytes (the configuration checks it).
    public init(secret: String, lifetime: Duration) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.lifetime = lifetime
    }

    /// A signed token for `userID`, valid for ``lifetime``.
    public func issue(for userID: UUID, now: Date = Date()) async throws -> String {
        let payload = Payload(
            sub: SubjectClaim(value: userID.uuidString.lowercased()),
            iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: now.addingTimeInterval(TimeInterval(lifetime.components.seconds)))
        )
        return try await keys.sign(payload)
    }

    /// The user id a valid token names.
    public func verify(_ token: String) async throws(Rejection) -> UUID {
        // A token verified before maps to the same claims: skip the HMAC and JSON
        // work while it is unexpired (the cache keeps only verified tokens).
        if let cached = verified.claims(of: token) {
            guard cached.expiresAt > Date() else { throw .expired }
            return cached.userID
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.decodeHeader(parts[0]) else { throw .malformed }
        guard header.alg == Self.algorithm else { throw .wrongAlgorithm }
        let payload: Payload
        do {
            payload = try await keys.verify(token, as: Payload.self)
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            throw .expired
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .badSignature
        } catch {
            throw .malformed
        }
        guard let userID = UUID(uuidString: payload.sub.value) else { throw .malformed }
        verified.remember(token, VerifiedTokens.Claims(userID: userID, expiresAt: payload.exp.value))
        return userID
    }

    struct Header: Decodable {
        var alg: String?
    }

    /// A JWT's header (its first part), or nil when it is not base64url JSON.
    static func decodeHeader(_ part: Substring) -> Header? {
        var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        return try? JSONDecoder().decode(Header.self, from: data)
    }
}

/// Tokens whose signature and claims were already checked, with what they say.
///
/// Bounded: when full it starts over, so memory stays flat whatever the traffic.
final class VerifiedTokens: Sendable {
    struct Claims: Sendable {
        var userID: UUID
        var expiresAt: Date
    }

    static let capacity = 10_000
    private let entries = Mutex([String: Claims]())

    func claims(of token: String) -> Claims? {
        entries.withLock { $0[token] }
    }

    func remember(_ token: String, _ claims: Claims) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = claims
        }
    }
}
