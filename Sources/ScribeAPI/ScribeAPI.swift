import Hummingbird
import Logging
import ScribeChat
import ScribePostgres
import ScribeStore
import ScribeFlows

/// What the HTTP API needs to serve requests. The flows come built (by
/// `scribe`, or a test): the API only speaks HTTP to them.
public struct APIDependencies: Sendable {
    /// The stores, handed each to the controllers that use it.
    public var stores: Stores
    public var tokens: AccessTokens
    /// The web chat (`POST /v1/chat`), counted against the web's daily limit.
    public var chat: ChatFlow
    /// The bots' chat (`POST /v1/chat/send`): a shorter history, the bots' daily limit.
    public var botChat: ChatFlow
    /// Where uploads are enqueued and their stories read.
    public var files: FileFlow
    /// bcrypt cost for new password hashes.
    public var bcryptCost: UInt8
    /// The largest JSON body accepted, in bytes.
    public var maxJSONBodyBytes: Int
    /// Upload limits.
    public var uploads: UploadLimits
    /// Tokens that open one conversation's event stream from a browser.
    public var streamTokens: StreamTokens
    /// This process's fan-out of conversation events (run it as a service, after the application).
    public var events: EventHub
    /// The folder of the web app's static files, served at `/` (nil: no page).
    public var webRoot: String?
    /// Daily requests and files in flight per person.
    public var limits: RequestLimits
    /// How failed logins are slowed down and stopped.
    public var loginThrottle: LoginThrottlePolicy
    /// Proxy trust, HSTS and CORS.
    public var http: HTTPPolicy
    /// `GET /metrics` on the API's router (nil: served elsewhere, or not at all).
    public var metrics: MetricsEndpoint?

    public init(
        stores: Stores,
        tokens: AccessTokens,
        streamTokens: StreamTokens,
        events: EventHub,
        chat: ChatFlow,
        botChat: ChatFlow,
        files: FileFlow,
        bcryptCost: UInt8,
        maxJSONBodyBytes: Int,
        uploads: UploadLimits,
        webRoot: String? = nil,
        limits: RequestLimits = RequestLimits(),
        loginThrottle: LoginThrottlePolicy = LoginThrottlePolicy(),
        http: HTTPPolicy = HTTPPolicy()
    ) {
        self.stores = stores
        self.tokens = tokens
        self.streamTokens = streamTokens
        self.events = events
        self.chat = chat
        self.botChat = botChat
        self.files = files
        self.bcryptCost = bcryptCost
        self.maxJSONBodyBytes = maxJSONBodyBytes
        self.uploads = uploads
        self.webRoot = webRoot
        self.limits = limits
        self.loginThrottle = loginThrottle
        self.http = http
    }
}

/// Builds the router of the whole v1 API.
public func buildRouter(_ dependencies: APIDependencies) -> Router<ScribeRequestContext> {
    let router = Router(context: ScribeRequestContext.self)
    // First, so that it sees every response as the client does (errors turned into JSON included).
    router.add(middleware: HTTPMetricsMiddleware())
    router.add(middleware: RequestMetadataMiddleware(trustProxy: dependencies.http.trustProxy))
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: SecurityHeadersMiddleware(strictTransportSecurityMaxAge: dependencies.http.strictTransportSecurityMaxAge))
    if !dependencies.http.corsOrigins.isEmpty {
        router.add(middleware: AllowedOriginsMiddleware(origins: dependencies.http.corsOrigins))
    }
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: JSONBodyLimitMiddleware(limit: dependencies.maxJSONBodyBytes))
    // The page: static files, reached only by paths no route answers.
    let assets = dependencies.webRoot.flatMap(WebAssets.init(root:))
    if let assets {
        router.add(middleware: assets.middleware)
    } else if let webRoot = dependencies.webRoot {
        router.add(middleware: FileMiddleware(webRoot, cacheControl: .init([(MediaType(type: .any), [.noCache])]), searchForIndexHtml: true))
    }

    HealthController(database: dependencies.stores.database).addRoutes(to: router)
    dependencies.metrics?.addRoutes(to: router)

    let auth = AuthController(
        users: dependencies.stores.users,
        audit: dependencies.stores.audit,
        tokens: dependencies.tokens,
        passwords: PasswordHasher(cost: dependencies.bcryptCost),
        throttle: LoginThrottle(failures: dependencies.stores.loginFailures, policy: dependencies.loginThrottle)
    )
    let v1 = router.group("v1")
    auth.addPublicRoutes(to: v1)
    let events = EventController(
        conversations: dependencies.stores.conversations,
        events: dependencies.stores.events,
        tokens: dependencies.tokens,
        streamTokens: dependencies.streamTokens,
        hub: dependencies.events
    )
    events.addPublicRoutes(to: v1)

    let authenticated = v1.group().add(middleware: BearerAuthenticator(tokens: dependencies.tokens))
    auth.addPrivateRoutes(to: authenticated)
    ConversationController(
        conversations: dependencies.stores.conversations,
        messages: dependencies.stores.messages,
        passages: dependencies.stores.passages,
        events: dependencies.events
    ).addRoutes(to: authenticated)
    ChatController(flow: dependencies.chat).addRoutes(to: authenticated)
    UploadController(flow: dependencies.files, chunks: dependencies.stores.uploadChunks, limits: dependencies.uploads, quota: dependencies.limits.uploadQuota).addRoutes(to: authenticated)
    events.addPrivateRoutes(to: authenticated)

    let bots = v1.group().add(middleware: ServiceKeyAuthenticator(keys: dependencies.stores.serviceKeys, scope: "chat"))
    ServiceChatController(
        serviceChats: dependencies.stores.serviceChats,
        chat: ChatController(flow: dependencies.botChat)
    ).addRoutes(to: bots)
    return router
}

/// How much one person may ask of Scribe. Nil: no limit.
public struct RequestLimits: Sendable, Hashable {
    /// Requests per UTC day of a person who uses the web app or the API with
    /// an access token: each chat message, each uploaded file.
    public var webDailyRequests: Int?
    /// Requests per UTC day of a person a bot acts for (`POST /v1/chat/send`).
    public var botDailyRequests: Int?
    /// Files of one person waiting to be read or answered at once.
    public var maxFilesInFlight: Int?

    public init(webDailyRequests: Int? = nil, botDailyRequests: Int? = nil, maxFilesInFlight: Int? = nil) {
        self.webDailyRequests = webDailyRequests
        self.botDailyRequests = botDailyRequests
        self.maxFilesInFlight = maxFilesInFlight
    }

    var uploadQuota: UploadQuota { UploadQuota(dailyLimit: webDailyRequests, maxFilesInFlight: maxFilesInFlight) }
}

/// What the API does about proxies and browsers.
public struct HTTPPolicy: Sendable, Hashable {
    /// Believe `X-Forwarded-For` and `X-Forwarded-Proto` (only behind a proxy that sets them).
    public var trustProxy: Bool
    /// `Strict-Transport-Security: max-age=…` on requests that came over TLS; nil: never.
    public var strictTransportSecurityMaxAge: Int?
    /// Origins whose pages may call the API from a browser (CORS); empty: none.
    public var corsOrigins: Set<String>

    public init(trustProxy: Bool = false, strictTransportSecurityMaxAge: Int? = 31_536_000, corsOrigins: Set<String> = []) {
        self.trustProxy = trustProxy
        self.strictTransportSecurityMaxAge = strictTransportSecurityMaxAge
        self.corsOrigins = corsOrigins
    }
}
