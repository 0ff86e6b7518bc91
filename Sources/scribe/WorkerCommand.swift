import ArgumentParser

/// `scribe worker`: a worker daemon. Run any number, on any hosts, against one database.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Claim and run queued jobs (the ocr and answer stages of each file) until SIGTERM."
    )

    func run() async throws {
        try await Runtime.load(label: "scribe.worker").run(.workers)
    }
}
