import ArgumentParser
import PostgresNIO
import ScribePostgres
import ScribeStore

/// `scribe migrate`: applies pending `sql/*.sql` migrations and exits.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending SQL migrations (safe to run from several processes at once)."
    )

    func run() async throws {
        let runtime = try Runtime.load(label: "scribe.migrate")
        try await PostgresClient.withRunning(runtime.databaseURL.configuration, logger: runtime.logger) { client in
            try await runtime.migrate(client: client)
        }
    }
}
