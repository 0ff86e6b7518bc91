import Foundation
import Logging
import PostgresNIO
import ScribeStore

/// Real PostgreSQL databases for tests, created on the server `scripts/test`
/// starts (its URL is in `DATABASE_URL`). No mocks: every test talks to Postgres.
public enum TestDatabase {
    /// A logger that keeps test output quiet unless `TEST_LOG_LEVEL` is set.
    public static let logger: Logger = {
        var logger = Logger(label: "scribe.test")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        return logger
    }()

    /// The server's URL from `DATABASE_URL`; the tests need it and say so plainly.
    public static var serverURL: DatabaseURL {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"] else {
                throw StoreError(.invalidConfiguration, "DATABASE_URL is not set: run the tests with scripts/test, which starts PostgreSQL.")
            }
            return try DatabaseURL(url)
        }
    }

    /// The repository's `sql/` folder.
    public static let migrationsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sql")

    /// Creates an empty database with a unique name and returns its configuration.
    public static func createEmpty() async throws -> (name: String, configuration: PostgresClient.Configuration) {
        let server = try serverURL.configuration
        let name = "scribe_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await PostgresClient.withRunning(server, logger: logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        var configuration = server
        configuration.database = name
        return (name, configuration)
    }

    /// Creates a database with every migration applied.
    public static func createMigrated() async throws -> PostgresClient.Configuration {
        let (_, configuration) = try await createEmpty()
        try await PostgresClient.withRunning(configuration, logger: logger) { client in
            try await Migrator(client: client, logger: logger).apply(Migrator.migrations(in: migrationsDirectory))
        }
        return configuration
    }

    /// Creates a migrated database and returns its URL too, for child processes.
    public static func createMigratedURL() async throws -> (url: String, configuration: PostgresClient.Configuration) {
        let configuration = try await createMigrated()
        guard let server = ProcessInfo.processInfo.environment["DATABASE_URL"],
            var components = URLComponents(string: server), let name = configuration.database
        else {
            throw StoreError(.invalidConfiguration, "DATABASE_URL is not set: run the tests with scripts/test.")
        }
        components.path = "/" + name
        return (components.string ?? server, configuration)
    }

    /// One migrated database shared by the tests of this process; tests keep
    /// apart by creating their own users.
    public static func shared() async throws -> PostgresClient.Configuration {
        try await SharedDatabase.instance.configuration()
    }

    /// Runs `body` with a running pool on the shared migrated database.
    public static func withStore<Result: Sendable>(_ body: @Sendable (Store) async throws -> Result) async throws -> Result {
        try await PostgresClient.withRunning(try await shared(), logger: logger) { client in
            try await body(Store(client: client, logger: logger))
        }
    }
}

private actor SharedDatabase {
    static let instance = SharedDatabase()
    private var task: Task<PostgresClient.Configuration, any Error>?

    func configuration() async throws -> PostgresClient.Configuration {
        if let task { return try await task.value }
        let task = Task { try await TestDatabase.createMigrated() }
        self.task = task
        return try await task.value
    }
}
