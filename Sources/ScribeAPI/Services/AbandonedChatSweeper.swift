import Logging
import ScribePostgres
import ScribeStore
import ServiceLifecycle

/// Fails, once a minute, the synchronous chats whose answer never came: a
/// `POST /v1/chat` whose process died, or whose database went away between the
/// question and the answer, leaves its message `processing`; this gives it a
/// sentence and `failed`, so nothing stays in progress for ever.
///
/// It also prunes the service records: old daily counts, quiet failed-login
/// runs and audit events past their retention; and the chunks of uploads
/// whose request died before it committed (after ``orphanedChunkAge``).
///
/// Every API process runs one; the updates are idempotent, so several at once are harmless.
public struct AbandonedChatSweeper: Service {
    let messages: MessageStore
    let usage: UsageStore
    let loginFailures: LoginFailureStore
    let audit: AuditStore
    let chunks: UploadChunkStore
    /// How long a chat may stay unanswered: well past the longest a request can take.
    let age: Duration
    let interval: Duration
    /// How long failed logins are remembered, and audit events kept (nil: for ever).
    let loginWindow: Duration
    let auditRetention: Duration?
    let logger: Logger

    /// The sweeper over the messages, and the records it prunes (`stores`' usage, login failures and audit).
    /// How old a chunk must be, with no upload committed for it, to be
    /// deleted: longer than the slowest upload request.
    static let orphanedChunkAge: Duration = .seconds(6 * 3600)

    public init(
        stores: Stores,
        age: Duration,
        interval: Duration = .seconds(60),
        loginWindow: Duration = .seconds(900),
        auditRetention: Duration? = nil,
        logger: Logger
    ) {
        messages = stores.messages
        usage = stores.usage
        loginFailures = stores.loginFailures
        audit = stores.audit
        chunks = stores.uploadChunks
        self.age = age
        self.interval = interval
        self.loginWindow = loginWindow
        self.auditRetention = auditRetention
        self.logger = logger
    }

    public func run() async {
        // Graceful shutdown cancels the wait; ending then is the normal way out.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                do {
                    let failed = try await messages.failAbandonedChats(olderThan: age)
                    if failed > 0 { logger.notice("failed abandoned chats", metadata: ["count": "\(failed)"]) }
                } catch {
                    logger.debug("could not sweep abandoned chats", metadata: ["error": "\(error)"])
                }
                do {
                    let pruned = try await chunks.pruneOrphans(olderThan: Self.orphanedChunkAge)
                    if pruned > 0 { logger.notice("deleted the chunks of unfinished uploads", metadata: ["count": "\(pruned)"]) }
                } catch {
                    logger.debug("could not prune unfinished uploads' chunks", metadata: ["error": "\(error)"])
                }
                do {
                    let pruned = try await usage.pruneOldDays()
                        + loginFailures.prune(quietFor: loginWindow)
                        + audit.prune(olderThan: auditRetention)
                    if pruned > 0 { logger.debug("pruned service records", metadata: ["count": "\(pruned)"]) }
                } catch {
                    logger.debug("could not prune service records", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
