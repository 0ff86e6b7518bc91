import Logging
import ScribeStore
import ServiceLifecycle

/// Fails, once a minute, the synchronous chats whose answer never came: a
/// `POST /v1/chat` whose process died, or whose database went away between the
/// question and the answer, leaves its message `processing`; this gives it a
/// sentence and `failed`, so nothing stays in progress for ever.
///
/// Every API process runs one; the update is idempotent, so several at once are harmless.
public struct AbandonedChatSweeper: Service {
    let store: Store
    /// How long a chat may stay unanswered: well past the longest a request can take.
    let age: Duration
    let interval: Duration
    let logger: Logger

    public init(store: Store, age: Duration, interval: Duration = .seconds(60), logger: Logger) {
        self.store = store
        self.age = age
        self.interval = interval
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
            }
        }
    }
}
