import Hummingbird
import Logging
import ScribeChat
import ScribeQueue
import ScribeStore
import ScribeWorker

/// What the HTTP API needs to serve requests.
public struct APIDependencies: Sendable {
    public var store: Store
    public var tokens: AccessTokens
    public var responder: ChatResponder
    /// bcrypt cost for new password hashes.
    public var bcryptCost: UInt8
    /// The largest JSON body accepted, in bytes.
    public var maxJSONBodyBytes: Int
    /// Upload limits.
    public var uploads: UploadLimits
    /// Where uploads are enqueued and their stories read.
    public var files: FileFlow
    /// Tokens that open one conversation's event stream from a browser.
    public var streamTokens: StreamTokens
    /// This process's fan-out of conversation events (run it as a service, after the application).
    public var events: EventHub
    /// The folder of the web app's static files, served at `/` (nil: no page).
    public var webRoot: String?
    /// `GET /metrics` on the API's router (nil: served elsewhere, or not at all).
    public var metrics: MetricsEndpoint?

    public init(
        store: Store,
        tokens: AccessTokens,
        streamTokens: StreamTokens,
        events: EventHub,
        responder: ChatResponder,
        bcryptCost: UInt8,
        maxJSONBodyBytes: Int,
        uploads: UploadLimits,
        webRoot: String? = nil
    ) {
        self.webRoot = webRoot
        self.streamTokens = streamTokens
        self.events = events
        self.uploads = uploads
        self.store = store
        self.tokens = tokens
        self.responder = responder
        self.bcryptCost = bcryptCost
        self.maxJSONBodyBytes = maxJSONBodyBytes
        self.files = FileFlow(store: store, queue: JobQueue(database: store.database, logger: Logger(label: "scribe.queue")))
    }
}

/// Builds the router of the whole v1 API.
public func buildRouter(_ dependencies: APIDependencies) -> Router<ScribeRequestContext> {
    let router = Router(context: ScribeRequestContext.self)
    // First, so that it sees every response as the client does (errors turned into JSON included).
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: JSONBodyLimitMiddleware(limit: dependencies.maxJSONBodyBytes))
    if let webRoot = dependencies.webRoot {
        // The page: static files only, revalidated on each load so a deploy shows at once.
        router.add(middleware: FileMiddleware(webRoot, cacheControl: .init([(MediaType(type: .any), [.noCache])]), searchForIndexHtml: true))
    }

    HealthController(store: dependencies.store).addRoutes(to: router)
    dependencies.metrics?.addRoutes(to: router)

    let auth = AuthController(
        store: dependencies.store,
        tokens: dependencies.tokens,
        passwords: PasswordHasher(cost: dependencies.bcryptCost)
    )
    let v1 = router.group("v1")
    auth.addPublicRoutes(to: v1)
    let events = EventController(
        store: dependencies.store,
        tokens: dependencies.tokens,
        streamTokens: dependencies.streamTokens,
        hub: dependencies.events
    )
    events.addPublicRoutes(to: v1)

    let authenticated = v1.group().add(middleware: BearerAuthenticator(tokens: dependencies.tokens))
    auth.addPrivateRoutes(to: authenticated)
    ConversationController(store: dependencies.store).addRoutes(to: authenticated)
    ChatController(store: dependencies.store, responder: dependencies.responder).addRoutes(to: authenticated)
    UploadController(flow: dependencies.files, limits: dependencies.uploads).addRoutes(to: authenticated)
    events.addPrivateRoutes(to: authenticated)
    return router
}
