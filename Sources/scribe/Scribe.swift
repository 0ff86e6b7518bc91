import ArgumentParser

/// The `scribe` executable: one binary, a subcommand per process kind.
@main
struct Scribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scribe",
        abstract: "A durable chat-with-documents backend.",
        discussion: "Configuration comes from environment variables; see README.md.",
        subcommands: [APICommand.self, WorkerCommand.self, MigrateCommand.self, DevCommand.self, KeysCommand.self, OCRBenchCommand.self, RetrievalBenchCommand.self]
    )
}
