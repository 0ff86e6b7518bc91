import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// A service key as stored: never the key itself, only its hash and prefix.
public struct ServiceKey: Sendable, Hashable {
    public var id: UUID
    public var name: String
    /// The key's first characters, to tell keys apart.
    public var prefix: String
    public var scopes: [String]
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    static let columns = "id, name, prefix, scopes, created_at, last_used_at, revoked_at"
    typealias Row = (UUID, String, String, [String], Date, Date?, Date?)

    init(row: Row) {
        self.init(id: row.0, name: row.1, prefix: row.2, scopes: row.3, createdAt: row.4, lastUsedAt: row.5, revokedAt: row.6)
    }

    public init(id: UUID, name: String, prefix: String, scopes: [String], createdAt: Date, lastUsedAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.prefix = prefix
        self.scopes = scopes
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// The service keys' SQL.
public struct ServiceKeyStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// The audit trail a key's creation and revocation are recorded in, in the same transaction.
    var audit: AuditStore { AuditStore(database: database, logger: logger) }
    /// Stores a new key by its hash, audited; the caller shows the key itself once.
    public func createServiceKey(name: String, prefix: String, hash: [UInt8], scopes: [String], origin: AuditOrigin = .commandLine) async throws -> ServiceKey {
        try await database.transaction { connection in
            let rows = try await connection.query(
                """
                INSERT INTO service_keys (id, name, prefix, key_hash, scopes)
                VALUES (\(UUID.v7()), \(name), \(prefix), \(ByteBuffer(bytes: hash)), \(scopes))
                RETURNING \(unescaped: ServiceKey.columns)
                """,
                logger: logger
            )
            for try await row in rows.decode(ServiceKey.Row.self) {
                let key = ServiceKey(row: row)
                try await audit.recordAudit(
                    AuditEvent(action: .keyCreated, serviceKeyID: key.id, origin: origin, detail: ["name": name, "prefix": prefix]),
                    on: connection
                )
                return key
            }
            throw StoreError(.notFound, "The new service key was not returned.")
        }
    }

    /// Every key, newest first (revoked ones included, marked).
    public func serviceKeys() async throws -> [ServiceKey] {
        try await database.withConnection { connection in
            let rows = try await connection.query("SELECT \(unescaped: ServiceKey.columns) FROM service_keys ORDER BY id DESC", logger: logger)
            var keys: [ServiceKey] = []
            for try await row in rows.decode(ServiceKey.Row.self) { keys.append(ServiceKey(row: row)) }
            return keys
        }
    }

    /// Revokes key `id` at once, audited; false when there is no such key or it was revoked already.
    public func revokeServiceKey(id: UUID, origin: AuditOrigin = .commandLine) async throws -> Bool {
        try await database.transaction { connection in
            let revoked = try await connection.query(
                "UPDATE service_keys SET revoked_at = now() WHERE id = \(id) AND revoked_at IS NULL RETURNING id",
                logger: logger
            ).collect().count == 1
            if revoked {
                try await audit.recordAudit(AuditEvent(action: .keyRevoked, serviceKeyID: id, origin: origin), on: connection)
            }
            return revoked
        }
    }

    /// The unrevoked key whose hash is `hash`; nil for an unknown or revoked key.
    ///
    /// Its use is noted (`last_used_at`, and a `key.used` audit event from
    /// `origin`) at most once a minute, in the same statement, so a busy key
    /// is not a row every request has to write.
    public func useServiceKey(hash: [UInt8], origin: AuditOrigin) async throws -> ServiceKey? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                WITH key AS (
                    SELECT \(unescaped: ServiceKey.columns) FROM service_keys
                    WHERE key_hash = \(ByteBuffer(bytes: hash)) AND revoked_at IS NULL
                ), touched AS (
                    UPDATE service_keys SET last_used_at = now()
                    WHERE id = (SELECT id FROM key) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
                    RETURNING id
                ), audited AS (
                    INSERT INTO audit_events (id, action, service_key_id, address, request_id)
                    SELECT \(UUID.v7()), \(AuditEvent.Action.keyUsed.rawValue), id, \(origin.address), \(origin.requestID) FROM touched
                )
                SELECT \(unescaped: ServiceKey.columns) FROM key
                """,
                logger: logger
            )
            for try await row in rows.decode(ServiceKey.Row.self) { return ServiceKey(row: row) }
            return nil
        }
    }
}
