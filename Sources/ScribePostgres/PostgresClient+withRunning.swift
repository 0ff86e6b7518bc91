import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs a pool for the duration of `body`: for one-shot commands and tests,
    /// where there is no service group to own it.
    @discardableResult
    public static func withRunning<Result: Sendable>(
        _ configuration: PostgresClient.Configuration,
        logger: Logger,
        _ body: (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
