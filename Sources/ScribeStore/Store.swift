import Foundation
import Logging
import PostgresNIO

/// Every SQL query Scribe runs against its own tables, behind named methods.
///
/// Each method that reads or changes user data takes the user's id and checks
/// ownership in the same statement, so another user's row is simply not found.
public struct Store: Sendable {
    /// The connection pool. It must be running (`client.run()` in a service group).
    public let client: PostgresClient
    let logger: Logger

    /// Creates a store over a pool.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Answers whether the database takes a trivial query: what `/ready` reports.
    public func ping() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    /// Runs `body` in a transaction (COMMIT on return, ROLLBACK on throw) and
    /// rethrows the body's own error rather than postgres-nio's wrapper, so
    /// callers can catch ``StoreError`` and `PSQLError` as they are.
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let rollbackError = error.rollbackError {
                logger.warning("rollback failed", metadata: ["error": "\(String(reflecting: rollbackError))"])
            }
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json(_ value: some Encodable) -> String {
        // Our own Codable structs always encode.
        (try? String(decoding: jsonEncoder.encode(value), as: UTF8.self)) ?? "null"
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, from text: String, default value: T) -> T {
        (try? JSONDecoder().decode(T.self, from: Data(text.utf8))) ?? value
    }
}

extension PSQLError {
    /// True when the statement broke a unique constraint (SQLSTATE 23505).
    var isUniqueViolation: Bool { serverInfo?[.sqlState] == "23505" }
    /// The constraint or index that was broken, if the server said.
    var constraintName: String? { serverInfo?[.constraintName] }
}
