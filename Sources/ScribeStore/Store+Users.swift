import Foundation
import PostgresNIO
import ScribePostgres

extension Store {
    /// Registers a user, audited from `origin` in the same transaction.
    /// Throws ``StoreError`` `.conflict` naming `email` or `username` when
    /// either is taken (case-insensitively).
    public func createUser(email: String, username: String?, passwordHash: String, origin: AuditOrigin) async throws -> User {
        let id = UUID.v7()
        do {
            return try await transaction { connection in
                let rows = try await connection.query(
                    """
                    INSERT INTO users (id, email, username, password_hash)
                    VALUES (\(id), \(email), \(username), \(passwordHash))
                    RETURNING created_at
                    """,
                    logger: logger
                )
                for try await createdAt in rows.decode(Date.self) {
                    try await recordAudit(AuditEvent(action: .userRegistered, userID: id, origin: origin), on: connection)
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
        try await withConnection { connection in
            let rows = try await connection.query(
                "SELECT id, email, username, created_at FROM users WHERE id = \(id) AND email IS NOT NULL",
                logger: logger
            )
            for try await (id, email, username, createdAt) in rows.decode((UUID, String, String?, Date).self) {
                return User(id: id, email: email, username: username, createdAt: createdAt)
            }
            return nil
        }
    }

    /// The user whose email or username is `login` (case-insensitively), with their password hash.
    public func credentials(login: String) async throws -> (user: User, passwordHash: String)? {
        try await withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT id, email, username, created_at, password_hash FROM users
                WHERE lower(email) = lower(\(login)) OR lower(username) = lower(\(login))
                ORDER BY lower(email) = lower(\(login)) DESC
                LIMIT 1
                """,
                logger: logger
            )
            for try await (id, email, username, createdAt, hash) in rows.decode((UUID, String, String?, Date, String).self) {
                return (User(id: id, email: email, username: username, createdAt: createdAt), hash)
            }
            return nil
        }
    }
}
