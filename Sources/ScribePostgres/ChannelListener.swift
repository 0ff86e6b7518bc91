import Logging
import PostgresNIO

/// Holds one `LISTEN` on a channel and calls `notify` with each NOTIFY's
/// payload, until cancelled.
///
/// A NOTIFY is only a nudge: whoever is woken reads the database as usual.
/// When the connection drops (Postgres restarted, network blip) or the
/// database is unreachable it listens again after a pause that grows to 5 s,
/// and each time it (re)starts listening it calls `notify(nil)`, because
/// nudges may have been missed meanwhile. Starting to listen is bounded by the
/// database's timeout; listening itself is not.
public struct ChannelListener: Sendable {
    let database: Database
    let channel: String
    let logger: Logger
    let notify: @Sendable (_ payload: String?) -> Void

    public init(database: Database, channel: String, logger: Logger, notify: @escaping @Sendable (_ payload: String?) -> Void) {
        self.database = database
        self.channel = channel
        self.logger = logger
        self.notify = notify
    }

    public func run() async {
        var pause = Duration.milliseconds(250)
        while !Task.isCancelled {
            let began = ContinuousClock.now
            do {
                try await database.withLongLivedConnection { [channel, notify] connection, started in
                    try await connection.listen(on: channel) { notifications in
                        started()
                        notify(nil)
                        for try await notification in notifications { notify(notification.payload) }
                    }
                }
            } catch {
                guard !Task.isCancelled else { return }
                // A listener that held for a while starts its backoff over.
                if ContinuousClock.now - began > .seconds(5) { pause = .milliseconds(250) }
                if pause == .milliseconds(250) {
                    logger.warning("listener lost its connection; listening again", metadata: ["channel": "\(channel)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }
}
