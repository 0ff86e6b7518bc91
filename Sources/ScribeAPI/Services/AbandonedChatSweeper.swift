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
/// runs and audit events past their retention.
///
/// Every API process runs one; the updates are idempotent, so several at once are harmless.
public struct AbandonedChatSweeper: Service {
    let store: Store
    /// How long a chat may stay unanswered: well past the longest a request can take.
    let age: Duration
    let interval: Duration
    /// How long failed logins are remembered, and audit events kept (nil: for ever).
    let loginWindow: Duration
    let auditRetention: Duration?
    let logger: Logger

    public init(
        store: Store,
        age: Duration,
        interval: Duration = .seconds(60),
        loginWindow: Duration = .seconds(900),
        auditRetention: Duration? = nil,
        logger: Logger
    ) {
        self.store = store
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
                    let failed = try await store.failAbandonedChats(olderThan: age)
                    if failed > 0 { logger.notice("failed abandoned chats", metadata: ["count": "\(failed)"]) }
                } catch {
                    logger.debug("could not sweep abandoned chats", metadata: ["error": "\(error)"])
                }
                do {
                    let pruned = try await store.pruneServiceRecords(loginWindow: loginWindow, auditRetention: auditRetention)
                    if pruned > 0 { logger.debug("pruned service records", metadata: ["count": "\(pruned)"]) }
                } catch {
                    logger.debug("could not prune service records", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
