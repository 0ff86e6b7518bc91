import Logging
import ScribeChat
import ScribeDocuments
import ScribeOCR
import ScribeFlows
import ScribeLLM
import ScribeQueue
import ScribePostgres
import ScribeStore
import ServiceLifecycle

/// The services of a worker: the queue worker with every handler Scribe
/// has (the file flow's stages, the benchmark's no-op), the backfill of
/// earlier documents' passages, and the upload bytes' pruner when they are
/// kept after the answer. The one place that
/// builds them, for `scribe worker`, `scribe dev` and the tests.
public enum WorkerServices {
    /// The queue passages are embedded on (give it slots when there is an embedder).
    public static let embeddingQueue = EmbeddingStage.queue

    /// The worker's services, to run beside the database in one service group.
    ///
    /// - Parameters:
    ///   - configuration: The queues with their slots, leases, retries, retention.
    ///   - payloadRetention: How long an answered upload keeps its bytes (zero: dropped with the answer).
    ///   - stores: The stores over the running database.
    ///   - reader: Reads uploads (OCR engines, PDF limits).
    ///   - responder: Answers a file's message with the LLM.
    ///   - embedder: Embeds passages for semantic retrieval (the `embed`
    ///     queue must then have slots); nil when it is not configured.
    ///   - logger: The worker's logger.
    public static func make(
        configuration: QueueWorkerConfiguration,
        payloadRetention: Duration = .zero,
        stores: Stores,
        reader: DocumentReader,
        responder: ChatResponder,
        embedder: EmbeddingsClient? = nil,
        logger: Logger
    ) -> [any Service] {
        let queue = JobQueue(database: stores.database, logger: logger)
        var handlers: [any JobHandler] = [
            OCRStage(
                uploads: stores.uploads, pages: stores.uploadPages, chunks: stores.uploadChunks, passages: stores.passages, queue: queue, reader: reader
            ),
            PageStage(pages: stores.uploadPages, passages: stores.passages, queue: queue, reader: reader),
            AssemblyStage(uploads: stores.uploads, pages: stores.uploadPages, passages: stores.passages, queue: queue),
            AnswerStage(messages: stores.messages, uploads: stores.uploads, queue: queue, responder: responder, dropPayloadOnSuccess: payloadRetention == .zero),
        ]
        var services: [any Service] = []
        if let embedder {
            handlers.append(EmbeddingStage(passages: stores.passages, database: stores.database, embedder: embedder, logger: logger))
            services.append(EmbeddingScheduler(passages: stores.passages, queue: queue, model: embedder.configuration.model, logger: logger))
        }
        services += [
            QueueWorker(configuration: configuration, queue: queue, handlers: handlers + [NoopJobHandler()], logger: logger),
            PassageBackfill(database: stores.database, passages: stores.passages, logger: logger),
            ScratchFileSweeper(logger: logger),
        ]
        if payloadRetention > .zero {
            services.append(UploadPayloadPruner(uploads: stores.uploads, retention: payloadRetention, logger: logger))
        }
        return services
    }
}
