import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// The users' SQL: registration (audited) and the lookups a login and a token need.
public struct UserStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// The audit trail a registration is recorded in, in the same transaction.
    var audit: AuditStore { AuditStore(database: database, logger: logger) }
    /// Registers a user, audited from `origin` in the same transaction.
    /// Throws ``StoreError`` `.conflict` naming `email` or `username` when
    /// either is taken (case-insensitively).
    public func createUser(email: String, username: String?, passwordHash: String, origin: AuditOrigin) async throws -> User {
        let id = UUID.v7()
        do {
            return try await database.transaction { connection in
                let rows = try await connection.query(
                    """
                    INSERT INTO users (id, email, username, password_hash)
                    VALUES (\(id), \(email), \(username), \(passwordHash))
                    RETURNING created_at
                    """,
                    logger: logger
                )
                for try await createdAt in rows.decode(Date.self) {
                    try await audit.recordAudit(AuditEvent(action: .userRegistered, userID: id, origin: origin), on: connection)
                    return User(id: id, email: email, username: username, createdAt: createdAt)
                }
                throw StoreError(.notFound, "The new user was not returned.")
            }
        } catch let error as PSQLError where error.isUniqueViolation {
            let field = error.constraintName == "users_username_key" ? "username" : "email"
            throw StoreError(.conflict, "That \(field) is already registered.", field: field)
        }
    }

    /// The user with `id`, or nil.
    public func user(id: UUID) async throws -> User? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                "SELECT \(unescaped: User.columns) FROM users WHERE id = \(id) AND email IS NOT NULL",
                logger: logger
            )
            for try await row in rows.decode(User.Row.self) { return User(row) }
            return nil
        }
    }

    /// The user whose email or username is `login` (case-insensitively), with their password hash.
    public func credentials(login: String) async throws -> (user: User, passwordHash: String)? {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: User.columns), password_hash FROM users
                WHERE lower(email) = lower(\(login)) OR lower(username) = lower(\(login))
                ORDER BY lower(email) = lower(\(login)) DESC
                LIMIT 1
                """,
                logger: logger
            )
            for try await (id, email, username, createdAt, hash) in rows.decode(User.RowWithPasswordHash.self) {
                return (User((id, email, username, createdAt)), hash)
            }
            return nil
        }
    }
}

extension User {
    /// The columns a user is read from, in ``Row``'s order: the one place they are listed.
    static let columns = "id, email, username, created_at"
    /// One row of ``columns``.
    typealias Row = (UUID, String, String?, Date)
    /// ``columns`` and then `password_hash`, for a login.
    typealias RowWithPasswordHash = (UUID, String, String?, Date, String)

    init(_ row: Row) {
        self.init(id: row.0, email: row.1, username: row.2, createdAt: row.3)
    }
}
