import Logging
import PostgresNIO
import ScribeStore

/// Holds a `LISTEN` on the queue's channel and calls `wake` with each
/// NOTIFY's payload: the queue with new work, or empty for every queue.
///
/// A NOTIFY carries no row, only a nudge: the woken claim loop claims as usual.
/// When the connection drops (Postgres restarted, network blip) or the
/// database is unreachable it listens again after a pause that grows to 5 s;
/// the worker's poll covers the gap. Starting to listen is bounded by the
/// database's timeout; listening itself is not.
struct QueueListener: Sendable {
    let database: Database
    let logger: Logger
    let wake: @Sendable (_ queue: String) -> Void

    func run() async {
        var pause = Duration.milliseconds(250)
        while !Task.isCancelled {
            let began = ContinuousClock.now
            do {
                try await database.withLongLivedConnection { connection, started in
                    try await connection.listen(on: JobQueue.channel) { notifications in
                        started()
                        // A (re)connected listener may have missed nudges: look once.
                        wake("")
                        for try await notification in notifications { wake(notification.payload) }
                    }
                }
            } catch {
                guard !Task.isCancelled else { return }
                // A listener that held for a while starts its backoff over.
                if ContinuousClock.now - began > .seconds(5) { pause = .milliseconds(250) }
                if pause == .milliseconds(250) {
                    logger.warning("queue listener lost its connection; listening again", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }
}
