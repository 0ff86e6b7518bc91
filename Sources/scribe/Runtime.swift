import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import ScribeAPI
import ScribeChat
import ScribeFlows
import ScribeConfig
import ScribeLLM
import ScribeDocuments
import ScribeOCR
import ScribeQueue
import ScribePostgres
import ScribeStore
import ScribeWorker
import ServiceLifecycle
import UnixSignals

/// What every subcommand sets up the same way: configuration, logging, the
/// pool, the LLM; and ``run(_:)``, the one place that builds the services of
/// `scribe api`, `scribe worker` and `scribe dev` and runs them with one
/// shutdown path.
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

    /// The configured LLM, the embeddings service when there is one, and the
    /// HTTP clients they own (shut them down when done).
    struct LLM {
        var provider: any LLMProvider
        var embedder: EmbeddingsClient?
        var httpClients: [HTTPClient]

        func shutdown() async throws {
            for client in httpClients { try await client.shutdown() }
        }
    }

    func makeLLMProvider() -> LLM {
        var llm: LLM
        switch configuration.llm {
        case .extractive:
            logger.notice("no LLM configured: answering with the offline extractive summariser")
            llm = LLM(provider: MeasuredLLMProvider(ExtractiveProvider()), httpClients: [])
        case .chatCompletions(let endpoint):
            let chat = ChatCompletionsClient.Configuration(endpoint)
            logger.info("LLM configured", metadata: ["base_url": "\(chat.baseURL)", "model": "\(chat.model)"])
            let httpClient = ChatCompletionsClient.makeHTTPClient(for: chat)
            let client = ChatCompletionsClient(configuration: chat, httpClient: httpClient, logger: Logger(label: "scribe.llm"))
            llm = LLM(provider: MeasuredLLMProvider(client), httpClients: [httpClient])
        }
        if let settings = configuration.embeddings {
            let embeddings = EmbeddingsClient.Configuration(settings)
            logger.info("embeddings configured", metadata: ["base_url": "\(embeddings.baseURL)", "model": "\(embeddings.model)"])
            // The embed queue's slots, plus the questions the API embeds meanwhile.
            let httpClient = EmbeddingsClient.makeHTTPClient(maxConnections: settings.concurrency + 8)
            llm.embedder = EmbeddingsClient(configuration: embeddings, httpClient: httpClient, logger: Logger(label: "scribe.embeddings"))
            llm.httpClients.append(httpClient)
        }
        return llm
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

    func makeResponder(stores: Stores, llm: LLM) -> ChatResponder {
        ChatResponder(
            messages: stores.messages,
            passages: stores.passages,
            provider: llm.provider,
            systemPrompt: configuration.systemPrompt,
            budget: ContextBudget(maxMessages: configuration.historyMaxMessages, maxTokens: configuration.contextMaxTokens),
            semantic: llm.embedder.map { embedder in
                SemanticRetrieval(
                    embedder: embedder,
                    minimumSimilarity: configuration.embeddings?.minimumSimilarity ?? 0.4,
                    logger: Logger(label: "scribe.embeddings")
                )
            }
        )
    }

    /// The OCR engines, created once for the process (shut the pool down when done).
    func makeOCRPool() throws -> OCREnginePool {
        do {
            return try OCREnginePool(configuration: configuration.ocrEngines, logger: Logger(label: "scribe.ocr"))
        } catch {
            throw StartupError("Cannot start the OCR engines: \(error.message)")
        }
    }

    /// The worker's services (the queue worker with the file flow's stages,
    /// and what runs beside it); see ``WorkerServices``.
    func makeWorkerServices(stores: Stores, llm: LLM, ocr: OCREnginePool) -> [any Service] {
        WorkerServices.make(
            configuration: configuration.queueWorker,
            payloadRetention: configuration.worker.payloadRetention,
            stores: stores,
            reader: DocumentReader(pool: ocr, configuration: configuration.ocrEngines),
            responder: makeResponder(stores: stores, llm: llm),
            embedder: llm.embedder,
            logger: Logger(label: "scribe.worker")
        )
    }

    /// What a process runs: the API, the workers, or both.
    struct Roles: OptionSet {
        let rawValue: Int
        static let api = Roles(rawValue: 1)
        static let workers = Roles(rawValue: 2)
    }

    /// Builds the services of `roles` and runs them in one service group until
    /// SIGTERM or SIGINT. Resources the services use (the LLM's HTTP client,
    /// the OCR engines) are closed by the same group after the services that
    /// use them have stopped, whether the group ends by a signal or a failure.
    ///
    /// - Parameters:
    ///   - roles: `.api` serves HTTP (needs `jwtSecret`); `.workers` runs the queue worker.
    ///   - jwtSecret: The secret access tokens are signed with.
    ///   - migrateFirst: Apply pending migrations before anything starts (`scribe dev`).
    ///
    /// SIGTERM and SIGINT are caught from the first moment, not only once the
    /// group runs: a stop asked for while the process starts (a worker's OCR
    /// engines take seconds to load) ends it cleanly, exit 0, instead of
    /// killing it with the signal's default action.
    func run(_ roles: Roles, jwtSecret: String? = nil, migrateFirst: Bool = false) async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let stop = StopRequest()
        logger.notice("starting", metadata: ["pid": "\(getpid())"])
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await signal in signals { await stop.request(because: signal) }
            }
            try await runServices(roles, jwtSecret: jwtSecret, migrateFirst: migrateFirst, stop: stop)
            tasks.cancelAll()
        }
    }

    private func runServices(_ roles: Roles, jwtSecret: String?, migrateFirst: Bool, stop: StopRequest) async throws {
        // Bootstrapped before anything that records (``makeMetrics(_:)``).
        let metrics = try makeMetrics(roles)
        if migrateFirst {
            try await PostgresClient.withRunning(databaseURL.configuration, logger: logger) { client in try await migrate(client: client) }
        }
        // What can fail to start is started first, before anything needs closing.
        let ocr = roles.contains(.workers) ? try makeOCRPool() : nil
        let llm = makeLLMProvider()
        let database = makeDatabase()
        let stores = Stores(database: database, logger: Logger(label: "scribe.store"))

        // Services stop in reverse order: the database last, each resource after its users.
        var services: [any Service] = [database]
        if let metrics { services += makeMetricsServices(metrics, database: database) }
        services.append(CloseOnShutdown { try await llm.shutdown() })
        if let ocr {
            services.append(CloseOnShutdown { await ocr.shutdown() })
            services += makeWorkerServices(stores: stores, llm: llm, ocr: ocr)
        }
        if roles.contains(.api), let jwtSecret {
            let endpoint = configuration.metricsPort == nil ? metrics.map(metricsEndpoint) : nil
            services += await makeAPIServices(stores: stores, llm: llm, jwtSecret: jwtSecret, metrics: endpoint)
        }
        // The signals are `stop`'s: it shuts the group down gracefully.
        var group = ServiceGroupConfiguration(services: services, logger: logger)
        if roles.contains(.workers) {
            // A worker must always exit when asked. Every database call is bounded,
            // so shutdown finishes within the grace period even with the database
            // gone; as a backstop, past the grace period plus a margin it escalates
            // to cancellation, and a task that ignores that ends the process (its
            // leases expire and are rescued).
            group.maximumGracefulShutdownDuration = configuration.worker.shutdownGrace + .seconds(15)
            group.maximumCancellationDuration = .seconds(15)
        }
        let serviceGroup = ServiceGroup(configuration: group)
        guard await stop.attach(serviceGroup) else {
            logger.info("asked to stop while starting; stopped")
            await ocr?.shutdown()
            try await llm.shutdown()
            return
        }
        try await serviceGroup.run()
    }

    /// The HTTP API and what it runs beside it: the sweeper of abandoned chats,
    /// the application, and the event hub (listed after the application so
    /// that it stops first, ending the event streams the server then drains).
    /// `metrics`, when given, is served at `GET /metrics` on the API's port.
    func makeAPIServices(stores: Stores, llm: LLM, jwtSecret: String, metrics: MetricsEndpoint? = nil) async -> [any Service] {
        let events = EventHub(
            database: stores.database,
            events: stores.events,
            heartbeat: configuration.eventHeartbeat,
            retention: configuration.eventRetention,
            historyCacheBytes: configuration.historyCacheBytes,
            logger: Logger(label: "scribe.events")
        )
        let responder = makeResponder(stores: stores, llm: llm)
        var dependencies = APIDependencies(
            stores: stores,
            tokens: await AccessTokens(secret: jwtSecret, lifetime: configuration.tokenLifetime),
            streamTokens: await StreamTokens(secret: jwtSecret),
            events: events,
            chat: ChatFlow(messages: stores.messages, usage: stores.usage, responder: responder, dailyLimit: configuration.webDailyRequestLimit),
            botChat: ChatFlow(
                messages: stores.messages,
                usage: stores.usage,
                responder: responder.withHistory(maxMessages: configuration.botHistoryMessages),
                dailyLimit: configuration.botDailyRequestLimit
            ),
            files: FileFlow(stores: stores, queue: JobQueue(database: stores.database, logger: Logger(label: "scribe.queue"))),
            bcryptCost: configuration.bcryptCost,
            maxJSONBodyBytes: configuration.maxJSONBodyBytes,
            uploads: UploadLimits(
                maxFileBytes: configuration.uploadMaxFileBytes,
                maxRequestBytes: configuration.uploadMaxRequestBytes,
                maxFiles: configuration.uploadMaxFiles,
                jobMaxAttempts: configuration.jobMaxAttempts
            ),
            webRoot: configuration.webRoot,
            limits: RequestLimits(
                webDailyRequests: configuration.webDailyRequestLimit,
                botDailyRequests: configuration.botDailyRequestLimit,
                maxFilesInFlight: configuration.maxFilesInFlight
            ),
            loginThrottle: LoginThrottlePolicy(
                maxFailuresPerAccount: configuration.loginMaxFailuresPerAccount,
                maxFailuresPerAddress: configuration.loginMaxFailuresPerAddress,
                window: configuration.loginFailureWindow
            ),
            http: HTTPPolicy(
                trustProxy: configuration.trustProxy,
                strictTransportSecurityMaxAge: configuration.strictTransportSecurityMaxAge,
                corsOrigins: configuration.corsOrigins
            )
        )
        dependencies.metrics = metrics
        let application = Application(
            router: buildRouter(dependencies),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "scribe"),
            logger: logger
        )
        return [
            AbandonedChatSweeper(
                stores: stores,
                age: longestChat * 2,
                loginWindow: configuration.loginFailureWindow,
                auditRetention: configuration.auditRetention,
                logger: Logger(label: "scribe.api")
            ),
            application,
            events,
        ]
    }

    func migrate(client: PostgresClient) async throws {
        let migrations = try Migrator.migrations(in: URL(fileURLWithPath: configuration.migrationsPath))
        let applied = try await Migrator(client: client, logger: logger).apply(migrations)
        logger.info("database is up to date", metadata: ["applied_now": "\(applied.joined(separator: ","))"])
    }
}

/// Closes a resource when the service group shuts down (gracefully or by
/// cancellation): listed before the services that use it, it closes after them.
struct CloseOnShutdown: Service {
    let close: @Sendable () async throws -> Void

    init(_ close: @escaping @Sendable () async throws -> Void) {
        self.close = close
    }

    func run() async throws {
        try? await gracefulShutdown()
        try await close()
    }
}

/// A stop asked for by a signal, before or after the service group exists.
actor StopRequest {
    private var requested = false
    private var group: ServiceGroup?

    /// Shuts the group down gracefully, or, before there is one, has ``attach(_:)`` refuse it.
    func request(because signal: UnixSignal) async {
        requested = true
        await group?.triggerGracefulShutdown()
    }

    /// Hands the group its stop; false when a stop was asked for already (do not run it).
    func attach(_ group: ServiceGroup) -> Bool {
        guard !requested else { return false }
        self.group = group
        return true
    }
}

/// A start-up failure: printed as a sentence, the process exits non-zero.
struct StartupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
