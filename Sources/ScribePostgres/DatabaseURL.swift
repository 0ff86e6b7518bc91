import Foundation
import NIOSSL
import PostgresNIO

/// Parses a `postgres://user:password@host:port/database?sslmode=…` URL into
/// the configurations of a pool (`PostgresClient`) and of a single connection.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    enum Endpoint: Sendable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    enum TLSMode: Sendable {
        case disable, prefer, require
    }

    let endpoint: Endpoint
    let tls: TLSMode
    let username: String
    let password: String?
    /// The database to open (nil: the server's default, the user's name).
    public var database: String?

    /// The pool configuration the URL describes.
    public var configuration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch self.tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        switch endpoint {
        case .tcp(let host, let port):
            return .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        case .unixSocket(let path):
            return .init(unixSocketPath: path, username: username, password: password, database: database)
        }
    }

    /// The configuration of one connection to the same server (the outage probe's).
    public var connectionConfiguration: PostgresConnection.Configuration {
        get throws {
            let tls: PostgresConnection.Configuration.TLS =
                switch self.tls {
                case .disable: .disable
                case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
                case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                }
            switch endpoint {
            case .tcp(let host, let port):
                return .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
            case .unixSocket(let path):
                return .init(unixSocketPath: path, username: username, password: password, database: database)
            }
        }
    }

    /// The URL as given, its password hidden.
    private let redacted: URLComponents

    /// The URL with its password hidden, safe to log.
    public var description: String {
        var components = redacted
        components.path = "/" + (database ?? "")
        return components.string ?? "postgres://…"
    }

    /// Parses `string`; throws ``DatabaseError`` with a readable reason when it is not a Postgres URL.
    public init(_ string: String) throws(DatabaseError) {
        guard let components = URLComponents(string: string),
            let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw DatabaseError(.invalidConfiguration, "DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        username = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "postgres"
        password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let name = String(components.path.drop(while: { $0 == "/" }))
        database = name.isEmpty ? nil : name
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { _, last in last }
        )
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? query["host"]
        let port = components.port ?? 5432

        switch query["sslmode"] ?? "disable" {
        case "disable", "allow": tls = .disable
        case "prefer": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        default:
            throw DatabaseError(.invalidConfiguration, "DATABASE_URL has an unknown sslmode; use disable, prefer or require")
        }

        if let host, host.hasPrefix("/") {
            // A Unix-domain socket directory, as libpq takes it: ?host=/run/postgresql
            endpoint = .unixSocket(path: "\(host)/.s.PGSQL.\(port)")
        } else {
            endpoint = .tcp(host: host ?? "127.0.0.1", port: port)
        }
        var redacted = components
        if redacted.password != nil { redacted.password = "***" }
        self.redacted = redacted
    }
}
