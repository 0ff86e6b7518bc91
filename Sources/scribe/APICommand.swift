import ArgumentParser
import Hummingbird
import Logging
import ScribeAPI
import ScribeStore
import ServiceLifecycle

/// `scribe api`: the HTTP API. Refuses to start without `JWT_SECRET`.
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api", abstract: "Serve the HTTP API.")

    func run() async throws {
        let runtime = try Runtime.load(label: "scribe.api")
        guard let secret = runtime.configuration.jwtSecret else {
            throw StartupError("JWT_SECRET is required by `scribe api` (at least 32 bytes, e.g. `openssl rand -hex 32`).")
        }
        try await APIServer(runtime: runtime, jwtSecret: secret).run()
    }
}

/// The API application and the services it owns, run until SIGTERM/SIGINT.
struct APIServer {
    let runtime: Runtime
    let jwtSecret: String
    var extraServices: [any Service] = []
    var migrateFirst = false

    func run() async throws {
        let configuration = runtime.configuration
        let postgres = runtime.makePostgresClient()
        let store = Store(client: postgres, logger: Logger(label: "scribe.store"))
        let llm = runtime.makeLLMProvider()
        let dependencies = APIDependencies(
            store: store,
            tokens: await AccessTokens(secret: jwtSecret, lifetime: configuration.tokenLifetime),
            responder: runtime.makeResponder(store: store, provider: llm.provider),
            bcryptCost: configuration.bcryptCost,
            maxJSONBodyBytes: configuration.maxJSONBodyBytes
        )
        var app = Application(
            router: buildRouter(dependencies),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "scribe"),
            services: [postgres] + extraServices,
            logger: runtime.logger
        )
        if migrateFirst {
            app.beforeServerStarts { try await runtime.migrate(client: postgres) }
        }
        do {
            try await app.runService()
        } catch {
            try? await llm.shutdown()
            throw error
        }
        try await llm.shutdown()
    }
}
