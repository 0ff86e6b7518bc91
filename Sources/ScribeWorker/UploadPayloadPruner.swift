import Logging
import ScribePostgres
import ScribeStore
import ServiceLifecycle

/// Drops the bytes of answered uploads once `retention` has passed (with
/// `JOB_PAYLOAD_RETENTION_SECONDS` above zero; at zero the answer's own
/// transaction drops them). Runs beside the queue worker, every minute.
public struct UploadPayloadPruner: Service {
    let uploads: UploadStore
    let retention: Duration
    let logger: Logger

    public init(uploads: UploadStore, retention: Duration, logger: Logger) {
        self.uploads = uploads
        self.retention = retention
        self.logger = logger
    }

    public func run() async throws {
        var failing = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let dropped = try await uploads.dropAnsweredPayloads(olderThan: retention)
                if dropped > 0 { logger.info("dropped the bytes of answered uploads", metadata: ["uploads": "\(dropped)"]) }
                failing = false
            } catch {
                if !failing { logger.warning("could not drop old upload bytes; retrying", metadata: ["error": "\(error)"]) }
                failing = true
            }
            // Until the next minute, or until shutdown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        }
    }
}
