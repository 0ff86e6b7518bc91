import ArgumentParser
import Hummingbird
import Logging
import ScribeAPI
import ScribeOCR
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
    var migrateFirst = false
    /// Also run queue workers in this process (`scribe dev`).
    var runWorkers = false

    func run() async throws {
        let configuration = runtime.configuration
        let database = runtime.makeDatabase()
        let store = Store(database: database, logger: Logger(label: "scribe.store"))
        let llm = runtime.makeLLMProvider()
        var services: [any Service] = [
            database,
            AbandonedChatSweeper(store: store, age: runtime.longestChat * 2, logger: Logger(label: "scribe.api")),
        ]
        var ocr: OCREnginePool?
        if runWorkers {
            let pool = try runtime.makeOCRPool()
            ocr = pool
            services += runtime.makeWorkerServices(store: store, provider: llm.provider, ocr: pool)
        }
        let dependencies = APIDependencies(
            store: store,
            tokens: await AccessTokens(secret: jwtSecret, lifetime: configuration.tokenLifetime),
            responder: runtime.makeResponder(store: store, provider: llm.provider),
            bcryptCost: configuration.bcryptCost,
            maxJSONBodyBytes: configuration.maxJSONBodyBytes,
            uploads: UploadLimits(
                maxFileBytes: configuration.uploadMaxFileBytes,
                maxRequestBytes: configuration.uploadMaxRequestBytes,
                maxFiles: configuration.uploadMaxFiles,
                jobMaxAttempts: configuration.jobMaxAttempts
            )
        )
        var app = Application(
            router: buildRouter(dependencies),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "scribe"),
            services: services,
            logger: runtime.logger
        )
        if migrateFirst {
            app.beforeServerStarts { try await runtime.migrate(client: database.client) }
        }
        do {
            try await app.runService()
        } catch {
            await ocr?.shutdown()
            try? await llm.shutdown()
            throw error
        }
        await ocr?.shutdown()
        try await llm.shutdown()
    }
}
