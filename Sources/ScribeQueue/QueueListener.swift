import Logging
import PostgresNIO
import ScribeStore

/// Holds a `LISTEN` on the queue's channel and calls `wake` on each NOTIFY.
///
/// A NOTIFY carries no row, only a nudge: the woken worker claims as usual.
/// When the connection drops (Postgres restarted, network blip) it listens
/// again after a short pause; the worker's poll covers the gap.
struct QueueListener: Sendable {
    let client: PostgresClient
    let logger: Logger
    let wake: @Sendable () -> Void

    func run() async {
        var pause = Duration.milliseconds(250)
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Store.queueChannel) { notifications in
                        // A (re)connected listener may have missed nudges: look once.
                        wake()
                        pause = .milliseconds(250)
                        for try await _ in notifications { wake() }
                    }
                }
            } catch {
                guard !Task.isCancelled else { return }
                logger.warning("queue listener lost its connection; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }
}
