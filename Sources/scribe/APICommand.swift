import ArgumentParser

/// `scribe api`: the HTTP API. Refuses to start without `JWT_SECRET`.
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api", abstract: "Serve the HTTP API.")

    func run() async throws {
        let runtime = try Runtime.load(label: "scribe.api")
        guard let secret = runtime.configuration.jwtSecret else {
            throw StartupError("JWT_SECRET is required by `scribe api` (at least 32 bytes, e.g. `openssl rand -hex 32`).")
        }
        try await runtime.run(.api, jwtSecret: secret)
    }
}
