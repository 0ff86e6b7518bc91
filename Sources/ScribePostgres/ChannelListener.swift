import Logging
import PostgresNIO
import Synchronization

/// Holds one `LISTEN` on a channel and reports what it hears, until cancelled.
///
/// A NOTIFY is only a nudge: whoever is woken reads the database as usual.
/// When the connection drops (Postgres restarted, network blip) or the
/// database is unreachable it reports ``Event/lost`` and listens again after a
/// pause that grows to 5 s; each time it (re)starts listening it reports
/// ``Event/listening``, because nudges may have been missed meanwhile.
/// Starting to listen is bounded by the database's timeout; listening itself
/// is not.
public struct ChannelListener: Sendable {
    /// What the listener reports, in the order it happens.
    public enum Event: Sendable, Equatable {
        /// Listening (again): every NOTIFY committed from now on will be heard;
        /// any sent before may have been missed.
        case listening
        /// A NOTIFY's payload. Payloads arrive in the order their transactions
        /// committed.
        case notification(String)
        /// The listening connection ended; nothing is heard until ``listening``.
        case lost
    }

    let database: Database
    let channel: String
    let logger: Logger
    let notify: @Sendable (Event) -> Void

    public init(database: Database, channel: String, logger: Logger, notify: @escaping @Sendable (Event) -> Void) {
        self.database = database
        self.channel = channel
        self.logger = logger
        self.notify = notify
    }

    public func run() async {
        var pause = Duration.milliseconds(250)
        while !Task.isCancelled {
            let began = ContinuousClock.now
            let heard = Mutex(false)
            var failure: (any Error)?
            do {
                try await database.withLongLivedConnection { [channel, notify] connection, started in
                    try await connection.listen(on: channel) { notifications in
                        started()
                        heard.withLock { $0 = true }
                        notify(.listening)
                        for try await notification in notifications { notify(.notification(notification.payload)) }
                    }
                }
            } catch {
                failure = error
            }
            if heard.withLock({ $0 }) { notify(.lost) }
            guard !Task.isCancelled else { return }
            if let failure {
                // A listener that held for a while starts its backoff over.
                if ContinuousClock.now - began > .seconds(5) { pause = .milliseconds(250) }
                if pause == .milliseconds(250) {
                    logger.warning("listener lost its connection; listening again", metadata: ["channel": "\(channel)", "error": "\(failure)"])
                }
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }
}
