import Foundation
import Logging
import PostgresNIO

/// Applies the numbered `sql/*.sql` files in order, each exactly once.
///
/// Applied versions are recorded in `schema_migrations`. A session-level
/// advisory lock serialises migrators, so two processes starting at once (two
/// API replicas, say) do not both apply the same file: the second waits, then
/// finds nothing left to do. Each file runs in its own transaction.
public struct Migrator: Sendable {
    /// One migration file.
    public struct Migration: Sendable, Hashable {
        /// The file name without `.sql`, e.g. `001_init`; its sort order is the apply order.
        public var version: String
        /// The file's SQL.
        public var sql: String
    }

    /// Arbitrary but fixed key for `pg_advisory_lock`, shared by every Scribe process.
    static let advisoryLockKey: Int64 = 0x5C21_BE00_0001

    let client: PostgresClient
    let logger: Logger

    /// Creates a migrator over `client`.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Reads the migrations in `directory` (files ending in `.sql`, sorted by name).
    public static func migrations(in directory: URL) throws(DatabaseError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw DatabaseError(.invalidConfiguration, "Cannot read the migrations folder \(directory.path); set MIGRATIONS_PATH.")
        }
        var migrations: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            do {
                let sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
                migrations.append(Migration(version: String(name.dropLast(4)), sql: sql))
            } catch {
                throw DatabaseError(.migrationFailed, "Cannot read migration \(name).")
            }
        }
        return migrations
    }

    /// Applies every migration not yet recorded, in order, and returns the versions applied now.
    @discardableResult
    public func apply(_ migrations: [Migration]) async throws -> [String] {
        try await client.withConnection { connection in
            // A migration may take long, and so may waiting for another migrator's
            // lock: lift the pool's statement timeout for this session, and put it
            // back (to the connection's own setting) when done.
            try await connection.query("SET statement_timeout = 0", logger: logger)
            try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))", logger: logger)
            do {
                let applied = try await apply(migrations, on: connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                try await connection.query("RESET statement_timeout", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                _ = try? await connection.query("RESET statement_timeout", logger: logger)
                throw error
            }
        }
    }

    private func apply(_ migrations: [Migration], on connection: PostgresConnection) async throws -> [String] {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        var done = Set<String>()
        for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger)
            .decode(String.self)
        {
            done.insert(version)
        }
        var applied: [String] = []
        for migration in migrations where !done.contains(migration.version) {
            logger.info("applying migration", metadata: ["version": "\(migration.version)"])
            do {
                try await connection.withTransaction(logger: logger) { connection in
                    for statement in SQLScript.statements(in: migration.sql) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO schema_migrations (version) VALUES (\(migration.version))",
                        logger: logger
                    )
                }
            } catch {
                logger.error("migration failed", metadata: ["version": "\(migration.version)", "error": "\(String(reflecting: error))"])
                throw DatabaseError(.migrationFailed, "Migration \(migration.version) failed; see the log for the database error.")
            }
            applied.append(migration.version)
        }
        return applied
    }
}
