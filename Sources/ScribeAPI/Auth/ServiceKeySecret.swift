import Crypto
import Foundation

/// A service key's secret: `sk_scribe_` and 256 random bits (base64url), made
/// once and shown once; Scribe keeps only its SHA-256 and its first characters.
public struct ServiceKeySecret: Sendable {
    /// The whole key, as the service sends it in `X-API-KEY`.
    public let value: String

    static let scheme = "sk_scribe_"

    /// A new random key.
    public init() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        value = Self.scheme + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// A key as received.
    public init(_ value: String) {
        self.value = value
    }

    /// What is stored to recognise the key: SHA-256 of its text.
    public var hash: [UInt8] { Array(SHA256.hash(data: Data(value.utf8))) }

    /// What may be shown of it: the scheme and four characters.
    public var prefix: String { String(value.prefix(Self.scheme.count + 4)) }

    /// Whether it has the shape of a Scribe key (checked before any lookup).
    public var isWellFormed: Bool {
        value.hasPrefix(Self.scheme) && value.utf8.count == Self.scheme.utf8.count + 43
            && value.dropFirst(Self.scheme.count).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
