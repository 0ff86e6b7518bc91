import Foundation
import Logging

/// Everything Scribe reads from its environment (12-factor), with defaults for a local run.
///
/// The README's configuration table lists each variable; keep the two in step.
public struct ScribeConfiguration: Sendable {
    /// Which LLM answers chats.
    public enum LLM: Sendable {
        /// The offline extractive summariser: no network, no key.
        case extractive
        /// An OpenAI-compatible Chat Completions endpoint.
        case chatCompletions(LLMEndpoint)
    }

    /// `DATABASE_URL`.
    public var databaseURL: String
    /// `HOST`, `PORT`: where the API listens.
    public var host: String
    public var port: Int
    /// `METRICS_PORT`: serve `GET /metrics` on this port of `host` instead of
    /// the API's; the only way a `scribe worker` serves its metrics.
    public var metricsPort: Int?
    /// `METRICS_TOKEN`: the bearer token a scrape of `/metrics` must send (none when unset).
    public var metricsToken: String?
    /// `JWT_SECRET`: the HMAC key for access tokens (at least 32 bytes). Required by `scribe api`.
    public var jwtSecret: String?
    /// `JWT_TTL_SECONDS`: how long an access token lives.
    public var tokenLifetime: Duration
    /// `BCRYPT_COST`: the bcrypt work factor for new password hashes.
    public var bcryptCost: UInt8
    /// `LLM_*`, `MISTRAL_*`.
    public var llm: LLM
    /// `EMBEDDINGS_*`: semantic retrieval's embeddings service; nil when not configured.
    public var embeddings: EmbeddingsSettings?
    /// `SYSTEM_PROMPT`.
    public var systemPrompt: String
    /// `HISTORY_MAX_MESSAGES`: at most this many earlier messages go to the LLM.
    public var historyMaxMessages: Int
    /// `CONTEXT_MAX_TOKENS`: estimated token budget of the prompt (system + history + question).
    public var contextMaxTokens: Int
    /// `MAX_JSON_BODY_BYTES`: the largest JSON request body accepted.
    public var maxJSONBodyBytes: Int
    /// `DATABASE_POOL_SIZE`: connections per process.
    public var databasePoolSize: Int
    /// `DATABASE_TIMEOUT_MS`: the longest one database use may take (a
    /// connection, the statements, the rows); past it the request answers 503.
    public var databaseTimeout: Duration
    /// `MIGRATIONS_PATH`: the folder holding `*.sql` migrations.
    public var migrationsPath: String
    /// The folder of the web app's static files, served at `/`.
    public var webRoot: String
    /// `LOG_LEVEL`.
    public var logLevel: Logger.Level
    /// `UPLOAD_MAX_FILE_BYTES`, `UPLOAD_MAX_REQUEST_BYTES`, `UPLOAD_MAX_FILES`: upload limits (413 beyond them).
    public var uploadMaxFileBytes: Int
    public var uploadMaxRequestBytes: Int
    public var uploadMaxFiles: Int
    /// `JOB_MAX_ATTEMPTS`: attempts per job before it is `failed`.
    public var jobMaxAttempts: Int
    /// `WORKER_*`, `JOB_*`: how worker processes run jobs.
    public var worker: WorkerSettings
    /// How often an event stream is sent a heartbeat comment.
    public var eventHeartbeat: Duration
    /// How long conversation events are kept for streams to resume from.
    public var eventRetention: Duration
    /// `HISTORY_CACHE_MB`: bytes of rendered history pages each API process
    /// keeps until their conversation changes (0: none).
    public var historyCacheBytes: Int
    /// The most LLM calls one process makes at once (`LLM_CONCURRENCY`): the
    /// `answer` queue's slots in a worker and the LLM client's connections.
    public var llmConcurrency: Int
    /// `OCR_*`, `PDF_RENDER_DPI`, `TESSDATA_PREFIX`: the OCR engines.
    public var ocr: OCRSettings
    /// `BOT_HISTORY_MESSAGES`: earlier messages a bot's answer sees.
    public var botHistoryMessages: Int
    /// Requests per UTC day per person, by channel (nil: no limit):
    /// `DAILY_REQUEST_LIMIT_BOT` (default 30) and `DAILY_REQUEST_LIMIT_WEB`
    /// (default none); `DAILY_REQUEST_LIMIT` sets both; 0 means no limit.
    public var botDailyRequestLimit: Int?
    public var webDailyRequestLimit: Int?
    /// `MAX_FILES_IN_FLIGHT`: one person's files waiting at once (0: no cap).
    public var maxFilesInFlight: Int?
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`, `LOGIN_MAX_FAILURES_PER_ADDRESS`,
    /// `LOGIN_FAILURE_WINDOW_SECONDS`: when failed logins are locked out.
    public var loginMaxFailuresPerAccount: Int
    public var loginMaxFailuresPerAddress: Int
    public var loginFailureWindow: Duration
    /// `TRUST_PROXY`: believe `X-Forwarded-For`/`-Proto` (behind a proxy that sets them).
    public var trustProxy: Bool
    /// `HSTS_MAX_AGE_SECONDS`: sent on requests that came over TLS (0: never).
    public var strictTransportSecurityMaxAge: Int?
    /// `CORS_ORIGINS`: comma-separated origins allowed to call the API from a browser.
    public var corsOrigins: Set<String>
    /// `AUDIT_RETENTION_DAYS`: how long audit events are kept (0: for ever).
    public var auditRetention: Duration?

    /// The default system prompt: short, and honest about documents.
    public static let defaultSystemPrompt = """
        You are Scribe, a helpful assistant. Users may share documents; their recognised text \
        appears in the conversation. Answer from that text when it is relevant, say so when the \
        text does not contain the answer, and keep answers concise.
        """

    /// Reads the configuration from `environment` (normally `ProcessInfo.processInfo.environment`).
    public init(environment: [String: String]) throws(ConfigurationError) {
        let env = Environment(values: environment)
        databaseURL = env["DATABASE_URL"] ?? "postgres://scribe@127.0.0.1:5432/scribe"
        host = env["HOST"] ?? "127.0.0.1"
        port = try env.integer("PORT", default: 8080, in: 0...65535)
        metricsPort = try env.optionalInteger("METRICS_PORT", in: 0...65535)
        metricsToken = env["METRICS_TOKEN"]
        if let metricsToken, metricsToken.utf8.count < 16 {
            throw ConfigurationError("METRICS_TOKEN", "must be at least 16 bytes long (e.g. `openssl rand -hex 16`).")
        }
        jwtSecret = env["JWT_SECRET"]
        if let jwtSecret, jwtSecret.utf8.count < 32 {
            throw ConfigurationError("JWT_SECRET", "must be at least 32 bytes long (e.g. `openssl rand -hex 32`).")
        }
        tokenLifetime = .seconds(try env.integer("JWT_TTL_SECONDS", default: 86_400, in: 60...2_592_000))
        bcryptCost = UInt8(try env.integer("BCRYPT_COST", default: 12, in: 4...31))
        systemPrompt = env["SYSTEM_PROMPT"] ?? Self.defaultSystemPrompt
        historyMaxMessages = try env.integer("HISTORY_MAX_MESSAGES", default: 20, in: 0...1000)
        contextMaxTokens = try env.integer("CONTEXT_MAX_TOKENS", default: 8000, in: 256...2_000_000)
        maxJSONBodyBytes = try env.integer("MAX_JSON_BODY_BYTES", default: 1 << 20, in: 1024...(64 << 20))
        databasePoolSize = try env.integer("DATABASE_POOL_SIZE", default: 20, in: 1...500)
        databaseTimeout = .milliseconds(try env.integer("DATABASE_TIMEOUT_MS", default: 3000, in: 100...600_000))
        migrationsPath = env["MIGRATIONS_PATH"] ?? "sql"
        webRoot = env["WEB_ROOT"] ?? "web"
        eventHeartbeat = .milliseconds(try env.integer("EVENTS_HEARTBEAT_MS", default: 15_000, in: 100...60_000))
        eventRetention = .seconds(try env.integer("EVENTS_RETENTION_SECONDS", default: 604_800, in: 60...315_360_000))
        historyCacheBytes = try env.integer("HISTORY_CACHE_MB", default: 64, in: 0...65_536) << 20
        let level = env["LOG_LEVEL"] ?? "info"
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError("LOG_LEVEL", "must be one of trace, debug, info, notice, warning, error, critical.")
        }
        self.logLevel = logLevel
        llm = try Self.llm(from: env)
        embeddings = try Self.embeddings(from: env)

        uploadMaxFileBytes = try env.integer("UPLOAD_MAX_FILE_BYTES", default: 256 << 20, in: 1...(1 << 30))
        uploadMaxRequestBytes = try env.integer("UPLOAD_MAX_REQUEST_BYTES", default: 512 << 20, in: 1...(2 << 30))
        uploadMaxFiles = try env.integer("UPLOAD_MAX_FILES", default: 10, in: 1...1000)
        jobMaxAttempts = try env.integer("JOB_MAX_ATTEMPTS", default: 5, in: 1...100)

        let cores = ProcessInfo.processInfo.activeProcessorCount
        let engines = try env.integer("OCR_ENGINES", default: cores, in: 1...256)
        llmConcurrency = try env.integer("LLM_CONCURRENCY", default: 32, in: 1...1024)
        worker = WorkerSettings(
            defaultQueueConcurrency: try env.integer("WORKER_CONCURRENCY", default: cores, in: 1...1024),
            leaseDuration: .seconds(try env.integer("JOB_LEASE_SECONDS", default: 30, in: 1...86_400)),
            pollInterval: .milliseconds(try env.integer("WORKER_POLL_INTERVAL_MS", default: 2000, in: 10...3_600_000)),
            rescueInterval: .milliseconds(try env.integer("WORKER_RESCUE_INTERVAL_MS", default: 5000, in: 100...3_600_000)),
            shutdownGrace: .seconds(try env.integer("WORKER_SHUTDOWN_GRACE_SECONDS", default: 20, in: 0...3600)),
            jobTimeout: .seconds(try env.integer("JOB_TIMEOUT_SECONDS", default: 900, in: 1...86_400)),
            retryBase: .milliseconds(try env.integer("JOB_RETRY_BASE_MS", default: 1000, in: 1...3_600_000)),
            retryCap: .seconds(try env.integer("JOB_RETRY_MAX_SECONDS", default: 300, in: 1...86_400)),
            payloadRetention: .seconds(try env.integer("JOB_PAYLOAD_RETENTION_SECONDS", default: 0, in: 0...31_536_000)),
            jobRetention: .seconds(try env.integer("JOB_RETENTION_SECONDS", default: 604_800, in: 60...315_360_000))
        )
        ocr = OCRSettings(
            languages: env["OCR_LANGUAGES"] ?? "eng+rus",
            tessdataPath: env["TESSDATA_PREFIX"],
            engineCount: engines,
            maxPixelsPerImage: try env.integer("OCR_MAX_PIXELS", default: 40_000_000, in: 1...1_000_000_000),
            maxPagesPerPDF: try env.integer("OCR_MAX_PAGES", default: 1000, in: 1...10_000),
            pageTimeBudget: .seconds(try env.integer("OCR_PAGE_TIMEOUT_SECONDS", default: 60, in: 1...3600)),
            pdfRenderDPI: try env.integer("PDF_RENDER_DPI", default: 300, in: 72...1200),
            threadNiceness: try env.integer("OCR_NICE", default: 10, in: 0...19)
        )
        botHistoryMessages = 5
        botDailyRequestLimit = 30
        webDailyRequestLimit = nil
        maxFilesInFlight = nil
        loginMaxFailuresPerAccount = 10
        loginMaxFailuresPerAddress = 50
        loginFailureWindow = .seconds(900)
        trustProxy = false
        strictTransportSecurityMaxAge = nil
        corsOrigins = []
        auditRetention = nil
        try readServiceSettings(from: env)
    }

    /// The service settings: bots, limits, logins, proxies and browsers.
    private mutating func readServiceSettings(from env: Environment) throws(ConfigurationError) {
        botHistoryMessages = try env.integer("BOT_HISTORY_MESSAGES", default: 5, in: 0...1000)
        let everyChannel = try env.optionalInteger("DAILY_REQUEST_LIMIT", in: 0...10_000_000)
        let bot = try env.optionalInteger("DAILY_REQUEST_LIMIT_BOT", in: 0...10_000_000) ?? everyChannel ?? 30
        let web = try env.optionalInteger("DAILY_REQUEST_LIMIT_WEB", in: 0...10_000_000) ?? everyChannel ?? 0
        botDailyRequestLimit = bot == 0 ? nil : bot
        webDailyRequestLimit = web == 0 ? nil : web
        let inFlight = try env.integer("MAX_FILES_IN_FLIGHT", default: 2000, in: 0...10_000_000)
        maxFilesInFlight = inFlight == 0 ? nil : inFlight
        loginMaxFailuresPerAccount = try env.integer("LOGIN_MAX_FAILURES_PER_ACCOUNT", default: 10, in: 1...1_000_000)
        loginMaxFailuresPerAddress = try env.integer("LOGIN_MAX_FAILURES_PER_ADDRESS", default: 50, in: 1...1_000_000)
        loginFailureWindow = .seconds(try env.integer("LOGIN_FAILURE_WINDOW_SECONDS", default: 900, in: 1...86_400))
        trustProxy = try env.boolean("TRUST_PROXY", default: false)
        let hsts = try env.integer("HSTS_MAX_AGE_SECONDS", default: 31_536_000, in: 0...315_360_000)
        strictTransportSecurityMaxAge = hsts == 0 ? nil : hsts
        let auditDays = try env.integer("AUDIT_RETENTION_DAYS", default: 365, in: 0...36_500)
        auditRetention = auditDays == 0 ? nil : .seconds(auditDays * 86_400)
        corsOrigins = Set((env["CORS_ORIGINS"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        for origin in corsOrigins {
            guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                url.path.isEmpty, !origin.hasSuffix("/")
            else {
                throw ConfigurationError("CORS_ORIGINS", "must be origins like https://app.example.com, separated by commas (no paths).")
            }
        }
    }

    /// Picks the LLM: `LLM_PROVIDER=extractive` forces the offline one; otherwise
    /// `LLM_BASE_URL`/`LLM_API_KEY`/`LLM_MODEL`, then `MISTRAL_API_KEY`/`MISTRAL_MODEL`,
    /// and with none of them, the offline extractive provider.
    private static func llm(from env: Environment) throws(ConfigurationError) -> LLM {
        let provider = env["LLM_PROVIDER"]?.lowercased()
        if provider == "extractive" { return .extractive }
        if let provider, provider != "openai" {
            throw ConfigurationError("LLM_PROVIDER", "must be `extractive` or `openai` (any OpenAI-compatible server).")
        }

        let baseURL: String
        let apiKey: String?
        let model: String
        if let url = env["LLM_BASE_URL"] ?? (env["LLM_API_KEY"] != nil ? "https://api.openai.com/v1" : nil) {
            baseURL = url
            apiKey = env["LLM_API_KEY"]
            guard let name = env["LLM_MODEL"] else {
                throw ConfigurationError("LLM_MODEL", "is required with LLM_BASE_URL or LLM_API_KEY (e.g. gpt-4o-mini).")
            }
            model = name
        } else if let mistralKey = env["MISTRAL_API_KEY"] {
            baseURL = "https://api.mistral.ai/v1"
            apiKey = mistralKey
            model = env["MISTRAL_MODEL"] ?? "mistral-small-latest"
        } else {
            if provider == "openai" {
                throw ConfigurationError("LLM_BASE_URL", "is required when LLM_PROVIDER=openai.")
            }
            return .extractive
        }
        guard let parsed = URL(string: baseURL), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host != nil else {
            throw ConfigurationError("LLM_BASE_URL", "must be an http(s) URL of the API root, including /v1 (e.g. https://api.mistral.ai/v1).")
        }
        return .chatCompletions(
            LLMEndpoint(
                baseURL: baseURL,
                apiKey: apiKey,
                model: model,
                maxTokens: try env.optionalInteger("LLM_MAX_TOKENS", in: 1...1_000_000),
                attemptTimeout: .milliseconds(try env.integer("LLM_TIMEOUT_MS", default: 60_000, in: 100...3_600_000)),
                totalTimeout: .milliseconds(try env.integer("LLM_TOTAL_TIMEOUT_MS", default: 120_000, in: 100...3_600_000)),
                maxAttempts: try env.integer("LLM_MAX_ATTEMPTS", default: 4, in: 1...20),
                maxConnections: try env.integer("LLM_CONCURRENCY", default: 32, in: 1...1024)
            )
        )
    }
}

extension ScribeConfiguration {
    static func embeddings(from env: Environment) throws(ConfigurationError) -> EmbeddingsSettings? {
        guard let baseURL = env["EMBEDDINGS_BASE_URL"] else {
            if env["EMBEDDINGS_MODEL"] != nil {
                throw ConfigurationError("EMBEDDINGS_BASE_URL", "is required when EMBEDDINGS_MODEL is set.")
            }
            return nil
        }
        guard let model = env["EMBEDDINGS_MODEL"] else {
            throw ConfigurationError("EMBEDDINGS_MODEL", "is required when EMBEDDINGS_BASE_URL is set (e.g. text-embedding-3-small).")
        }
        guard let parsed = URL(string: baseURL), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host != nil else {
            throw ConfigurationError("EMBEDDINGS_BASE_URL", "must be an http(s) URL of the API root, including /v1 (e.g. http://127.0.0.1:11434/v1).")
        }
        let similarity: Double
        if let text = env["EMBEDDINGS_MIN_SIMILARITY"] {
            guard let value = Double(text), (-1...1).contains(value) else {
                throw ConfigurationError("EMBEDDINGS_MIN_SIMILARITY", "must be a number from -1 to 1.")
            }
            similarity = value
        } else {
            similarity = 0.4
        }
        return EmbeddingsSettings(
            baseURL: baseURL,
            apiKey: env["EMBEDDINGS_API_KEY"],
            model: model,
            timeout: .milliseconds(try env.integer("EMBEDDINGS_TIMEOUT_MS", default: 10_000, in: 100...600_000)),
            batchSize: try env.integer("EMBEDDINGS_BATCH_SIZE", default: 32, in: 1...2048),
            concurrency: try env.integer("EMBEDDINGS_CONCURRENCY", default: 2, in: 1...256),
            minimumSimilarity: similarity
        )
    }
}

/// Typed reads of environment variables; an empty value counts as unset.
struct Environment {
    var values: [String: String]

    subscript(name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        try optionalInteger(name, in: range) ?? value
    }

    func boolean(_ name: String, default value: Bool) throws(ConfigurationError) -> Bool {
        guard let text = self[name]?.lowercased() else { return value }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(name, "must be true or false.")
        }
    }

    func optionalInteger(_ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = self[name] else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw ConfigurationError(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        return number
    }
}
