import Foundation
import Logging
import PostgresNIO
import ScribePostgres
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

    /// How tests use a database: the production deadline is 3 s, but a test
    /// run loads two cores with every suite at once, and a deadline that fires
    /// there tests nothing. (`DatabaseTests` sets short deadlines on purpose.)
    /// A test's pool: ten connections are more than any test uses at once,
    /// and every suite runs at the same time on one server.
    public static let options = Database.Options(timeout: .seconds(30), poolSize: 10)

    /// For tests whose statements race each other on a fresh database (the
    /// queue's concurrent claims): twice in six full runs on two cores,
    /// while the OCR suites filled both, eight concurrent claims went
    /// unanswered for 30 s and then completed nothing; the cause is not
    /// known yet. A longer bound tells a slow machine from a hang.
    public static let patientOptions = Database.Options(timeout: .seconds(120), poolSize: 10)

    /// The server's URL from `DATABASE_URL`; the tests need it and say so plainly.
    public static var serverURL: DatabaseURL {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"] else {
                throw DatabaseError(.invalidConfiguration, "DATABASE_URL is not set: run the tests with scripts/test, which starts PostgreSQL.")
            }
            return try DatabaseURL(url)
        }
    }

    /// The repository's `sql/` folder.
    public static let migrationsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sql")

    /// Creates an empty database with a unique name and returns where it is.
    public static func createEmpty() async throws -> (name: String, url: DatabaseURL) {
        let server = try serverURL
        let name = "scribe_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await PostgresClient.withRunning(server.configuration, logger: logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        var url = server
        url.database = name
        return (name, url)
    }

    /// Creates a database with every migration applied.
    public static func createMigrated() async throws -> DatabaseURL {
        let (_, url) = try await createEmpty()
        try await PostgresClient.withRunning(url.configuration, logger: logger) { client in
            try await Migrator(client: client, logger: logger).apply(Migrator.migrations(in: migrationsDirectory))
        }
        return url
    }

    /// Creates a migrated database and returns its URL as text too, for child processes.
    public static func createMigratedURL() async throws -> (url: String, configuration: DatabaseURL) {
        let configuration = try await createMigrated()
        guard let server = ProcessInfo.processInfo.environment["DATABASE_URL"],
            var components = URLComponents(string: server), let name = configuration.database
        else {
            throw DatabaseError(.invalidConfiguration, "DATABASE_URL is not set: run the tests with scripts/test.")
        }
        components.path = "/" + name
        return (components.string ?? server, configuration)
    }

    /// One migrated database shared by the tests of this process; tests keep
    /// apart by creating their own users.
    public static func shared() async throws -> DatabaseURL {
        try await SharedDatabase.instance.configuration()
    }

    /// Runs `body` with a running pool on the shared migrated database.
    public static func withStores<Result: Sendable>(_ body: @Sendable (Stores) async throws -> Result) async throws -> Result {
        try await Database.withRunning(try await shared(), options: options, logger: logger) { database in
            try await body(Stores(database: database, logger: logger))
        }
    }
}

private actor SharedDatabase {
    static let instance = SharedDatabase()
    private var task: Task<DatabaseURL, any Error>?

    func configuration() async throws -> DatabaseURL {
        if let task { return try await task.value }
        let task = Task { try await TestDatabase.createMigrated() }
        self.task = task
        return try await task.value
    }
}

extension PostgresClient {
    /// Runs a plain pool on the database at `url` for the duration of `body`.
    @discardableResult
    public static func withRunning<Result: Sendable>(
        _ url: DatabaseURL,
        logger: Logger,
        _ body: (PostgresClient) async throws -> Result
    ) async throws -> Result {
        try await withRunning(url.configuration, logger: logger, body)
    }
}
