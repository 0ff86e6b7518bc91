import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// Every SQL query Scribe runs against its own tables, behind named methods.
///
/// Each method that reads or changes user data takes the user's id and checks
/// ownership in the same statement, so another user's row is simply not found.
///
/// Every method is one bounded use of the ``Database``: it answers within the
/// database's timeout, and throws ``StoreError`` `.unavailable` when the server
/// cannot be reached or does not answer in time.
public struct Store: Sendable {
    /// The database. It must be running (`database.run()` in a service group).
    public let database: Database
    let logger: Logger

    /// Creates a store over a database.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Answers whether the database takes a trivial query within `timeout`: what `/ready` reports.
    public func ping(timeout: Duration? = nil) async throws {
        try await database.withConnection(timeout: timeout) { connection in
            _ = try await connection.query("SELECT 1", logger: logger).collect()
        }
    }

    /// Runs `body` on a leased connection, bounded by the database's timeout.
    func withConnection<Result: Sendable>(
        timeout: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await database.withConnection(timeout: timeout, body)
    }

    /// Runs `body` in a transaction; see ``Database/transaction(timeout:_:)``.
    func transaction<Result: Sendable>(
        timeout: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await database.transaction(timeout: timeout, body)
    }

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// JSON text of one of our own Codable values, for a `::jsonb` parameter.
    public static func json(_ value: some Encodable) -> String {
        // Our own Codable structs always encode.
        (try? String(decoding: jsonEncoder.encode(value), as: UTF8.self)) ?? "null"
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, from text: String, default value: T) -> T {
        (try? JSONDecoder().decode(T.self, from: Data(text.utf8))) ?? value
    }
}
