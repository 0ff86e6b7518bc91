import Foundation
import Logging
import ScribeAPI
import ScribeChat
import ScribeLLM
import ScribeDocuments
import ScribeOCR
import ScribeQueue
import ScribePostgres
import ScribeStore
import ScribeFlows
import ScribeTestSupport
import ScribeWorker
import ServiceLifecycle

/// Queue settings that make tests quick: fast polls and retries. The lease is 15 s, not
/// shorter: with every suite running in parallel on two cores a heartbeat can come late, and a
/// lease that runs out under a live job makes a second attempt the tests would count.
let fastQueue = QueueWorkerConfiguration(
    queues: ["default": 2, StageJobKind.ocr.queue: 1, StageJobKind.answer.queue: 4],
    leaseDuration: .seconds(15),
    pollInterval: .milliseconds(200),
    rescueInterval: .milliseconds(200),
    shutdownGrace: .seconds(5),
    retryBase: .milliseconds(20),
    retryCap: .milliseconds(100)
)

/// Runs the API with an in-process queue worker (real OCR engines, the given
/// LLM) on its own database, so uploads flow through the whole pipeline.
func withPipeline(
    provider: any LLMProvider = ExtractiveProvider(),
    ocr: OCRConfiguration = OCRConfiguration(languages: "eng+rus", engineCount: 1),
    queue: QueueWorkerConfiguration = fastQueue,
    jobMaxAttempts: Int = 3,
    semantic: SemanticRetrieval? = nil,
    _ body: @Sendable (APIClient) async throws -> Void
) async throws {
    var queue = queue
    if semantic != nil { queue.queues[WorkerServices.embeddingQueue] = 2 }
    let pool = try OCREnginePool(configuration: ocr, logger: TestDatabase.logger)
    do {
        try await withAPI(
            provider: provider,
            uploads: UploadLimits(maxFileBytes: 8 << 20, maxRequestBytes: 16 << 20, maxFiles: 5, jobMaxAttempts: jobMaxAttempts),
            database: try await TestDatabase.createMigrated(),
            services: { [queue] stores, responder in
                WorkerServices.make(
                    configuration: queue,
                    stores: stores,
                    reader: DocumentReader(pool: pool, configuration: ocr),
                    responder: responder,
                    embedder: semantic?.embedder,
                    logger: TestDatabase.logger
                )
            },
            semantic: semantic,
            body
        )
    } catch {
        await pool.shutdown()
        throw error
    }
    await pool.shutdown()
}
