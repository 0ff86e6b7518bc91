import AsyncHTTPClient
import Foundation
import Logging
import PostgresNIO
import ScribeAPI
import ScribeChat
import ScribeConfig
import ScribeLLM
import ScribeOCR
import ScribeQueue
import ScribeStore
import ScribeWorker
import ServiceLifecycle

/// What every subcommand sets up the same way: configuration, logging, the pool, the LLM.
struct Runtime {
    let configuration: ScribeConfiguration
    let logger: Logger
    let databaseURL: DatabaseURL

    /// Reads the environment and bootstraps logging; a bad setting ends the process with a clear message.
    static func load(label: String) throws -> Runtime {
        let configuration: ScribeConfiguration
        do {
            configuration = try ScribeConfiguration(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw StartupError("Invalid configuration: \(error)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = configuration.logLevel
            return handler
        }
        let databaseURL: DatabaseURL
        do {
            databaseURL = try DatabaseURL(configuration.databaseURL)
        } catch {
            throw StartupError("Invalid DATABASE_URL: \(error.reason)")
        }
        return Runtime(configuration: configuration, logger: Logger(label: label), databaseURL: databaseURL)
    }

    /// The database every subcommand uses: a bounded pool that survives outages (run it as a service).
    func makeDatabase() -> Database {
        Database(
            url: databaseURL,
            options: Database.Options(timeout: configuration.databaseTimeout, poolSize: configuration.databasePoolSize),
            logger: Logger(label: "scribe.postgres")
        )
    }

    /// The configured LLM and the HTTP client it owns (shut it down when done).
    struct LLM {
        var provider: any LLMProvider
        var httpClient: HTTPClient?

        func shutdown() async throws {
            try await httpClient?.shutdown()
        }
    }

    func makeLLMProvider() -> LLM {
        switch configuration.llm {
        case .extractive:
            logger.notice("no LLM configured: answering with the offline extractive summariser")
            return LLM(provider: ExtractiveProvider(), httpClient: nil)
        case .chatCompletions(let llm):
            logger.info("LLM configured", metadata: ["base_url": "\(llm.baseURL)", "model": "\(llm.model)"])
            let httpClient = ChatCompletionsClient.makeHTTPClient(for: llm)
            let client = ChatCompletionsClient(configuration: llm, httpClient: httpClient, logger: Logger(label: "scribe.llm"))
            return LLM(provider: client, httpClient: httpClient)
        }
    }

    /// The longest a synchronous chat request can take: the LLM's total
    /// budget (a minute for the offline summariser), plus the database calls around it.
    var longestChat: Duration {
        let llm: Duration =
            switch configuration.llm {
            case .extractive: .seconds(60)
            case .chatCompletions(let client): client.totalTimeout
            }
        return max(llm + configuration.databaseTimeout * 4, .seconds(150))
    }

    func makeResponder(store: Store, provider: any LLMProvider) -> ChatResponder {
        ChatResponder(
            store: store,
            provider: provider,
            systemPrompt: configuration.systemPrompt,
            budget: ContextBudget(maxMessages: configuration.historyMaxMessages, maxTokens: configuration.contextMaxTokens)
        )
    }

    /// The OCR engines, created once for the process (shut the pool down when done).
    func makeOCRPool() throws -> OCREnginePool {
        do {
            return try OCREnginePool(configuration: configuration.ocr, logger: Logger(label: "scribe.ocr"))
        } catch {
            throw StartupError("Cannot start the OCR engines: \(error.message)")
        }
    }

    /// The worker's services (the queue worker with the file flow's stages,
    /// and what runs beside it); see ``WorkerServices``.
    func makeWorkerServices(store: Store, provider: any LLMProvider, ocr: OCREnginePool) -> [any Service] {
        WorkerServices.make(
            configuration: configuration.worker,
            store: store,
            reader: DocumentReader(pool: ocr, configuration: configuration.ocr),
            responder: makeResponder(store: store, provider: provider),
            logger: Logger(label: "scribe.worker")
        )
    }

    func migrate(client: PostgresClient) async throws {
        let migrations = try Migrator.migrations(in: URL(fileURLWithPath: configuration.migrationsPath))
        let applied = try await Migrator(client: client, logger: logger).apply(migrations)
        logger.info("database is up to date", metadata: ["applied_now": "\(applied.joined(separator: ","))"])
    }
}

/// A start-up failure: printed as a sentence, the process exits non-zero.
struct StartupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
