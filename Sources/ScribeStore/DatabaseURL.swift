import Foundation
import PostgresNIO

/// Parses a `postgres://user:password@host:port/database?sslmode=…` URL into a
/// `PostgresClient.Configuration`.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    /// The client configuration the URL describes.
    public var configuration: PostgresClient.Configuration
    /// The URL with its password hidden, safe to log.
    public let description: String

    /// Parses `string`; throws ``StoreError`` with a readable reason when it is not a Postgres URL.
    public init(_ string: String) throws(StoreError) {
        guard let components = URLComponents(string: string),
            let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw StoreError(.invalidConfiguration, "DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        let username = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "postgres"
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { _, last in last }
        )
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? query["host"]
        let port = components.port ?? 5432

        let tls: PostgresClient.Configuration.TLS
        switch query["sslmode"] ?? "disable" {
        case "disable", "allow": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default:
            throw StoreError(.invalidConfiguration, "DATABASE_URL has an unknown sslmode; use disable, prefer or require")
        }

        if let host, host.hasPrefix("/") {
            // A Unix-domain socket directory, as libpq takes it: ?host=/run/postgresql
            configuration = .init(
                unixSocketPath: "\(host)/.s.PGSQL.\(port)",
                username: username,
                password: password,
                database: database.isEmpty ? nil : database
            )
        } else {
            configuration = .init(
                host: host ?? "127.0.0.1",
                port: port,
                username: username,
                password: password,
                database: database.isEmpty ? nil : database,
                tls: tls
            )
        }
        var redacted = components
        if redacted.password != nil { redacted.password = "***" }
        description = redacted.string ?? "postgres://…"
    }
}
