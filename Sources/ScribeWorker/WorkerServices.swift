import Logging
import ScribeChat
import ScribeOCR
import ScribeQueue
import ScribePostgres
import ScribeStore
import ServiceLifecycle

/// The services of a worker: the queue worker with every handler Scribe
/// has (the file flow's stages, the benchmark's no-op), and the upload
/// bytes' pruner when they are kept after the answer. The one place that
/// builds them, for `scribe worker`, `scribe dev` and the tests.
public enum WorkerServices {
    /// The worker's services, to run beside the database in one service group.
    ///
    /// - Parameters:
    ///   - configuration: The queues with their slots, leases, retries, retention.
    ///   - store: The store over the running database.
    ///   - reader: Reads uploads (OCR engines, PDF limits).
    ///   - responder: Answers a file's message with the LLM.
    ///   - logger: The worker's logger.
    public static func make(
        configuration: QueueWorkerConfiguration,
        store: Store,
        reader: DocumentReader,
        responder: ChatResponder,
        logger: Logger
    ) -> [any Service] {
        let queue = JobQueue(database: store.database, logger: logger)
        let files = FileFlow(store: store, queue: queue)
        let handlers = files.handlers(reader: reader, responder: responder, dropPayloadOnSuccess: configuration.payloadRetention == .zero)
        var services: [any Service] = [
            QueueWorker(configuration: configuration, queue: queue, handlers: handlers + [NoopJobHandler()], logger: logger)
        ]
        if configuration.payloadRetention > .zero {
            services.append(UploadPayloadPruner(store: store, retention: configuration.payloadRetention, logger: logger))
        }
        return services
    }
}
