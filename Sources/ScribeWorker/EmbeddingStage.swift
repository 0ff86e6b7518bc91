import Foundation
import Logging
import ScribeLLM
import ScribePostgres
import ScribeQueue
import ScribeStore
import ServiceLifecycle

/// The job's args: the upload whose passages to embed.
struct EmbeddingJobArgs: Codable, Sendable {
    var uploadID: UUID

    enum CodingKeys: String, CodingKey {
        case uploadID = "upload_id"
    }
}

/// The `embed_passages` stage, on the `embed` queue (`EMBEDDINGS_CONCURRENCY`
/// slots): embeds an upload's passages that have no embedding yet, a batch
/// per request, each batch saved as it comes back, so a retried or rescued
/// job goes on where the last one stopped. Saving is idempotent (a passage
/// embedded already is left alone): however often the job runs, each passage
/// ends with one embedding.
///
/// A batch the service refuses for good (HTTP 4xx, say a passage too long
/// for the model) is sent again one passage at a time; a passage refused
/// alone is saved with an empty embedding, so it is not asked for again and
/// full-text search alone finds it. Rate limits, outages and timeouts fail
/// the attempt, retried by the queue (after `Retry-After` when given).
public struct EmbeddingStage: JobHandler {
    static let jobKind = "embed_passages"
    static let queue = "embed"

    public let kind = Self.jobKind
    let passages: PassageStore
    let database: Database
    let embedder: EmbeddingsClient
    let logger: Logger

    /// The stage over `database`, embedding with `embedder`.
    public init(passages: PassageStore, database: Database, embedder: EmbeddingsClient, logger: Logger) {
        self.passages = passages
        self.database = database
        self.embedder = embedder
        self.logger = logger
    }

    public func run(_ job: ClaimedJob) async throws -> JobCompletion {
        try await embedPassages(of: try job.decodeArgs(EmbeddingJobArgs.self).uploadID)
        return .acknowledge
    }

    /// Embeds every passage of `uploadID` that has no embedding yet, a batch at a time.
    public func embedPassages(of uploadID: UUID) async throws {
        let model = embedder.configuration.model
        while true {
            let batch = try await passages.unembedded(uploadID: uploadID, limit: embedder.configuration.batchSize)
            guard !batch.isEmpty else { return }
            let embedded = try await embed(batch)
            try await database.withConnection { [passages] connection in
                try await passages.saveEmbeddings(embedded, model: model, on: connection)
            }
        }
    }

    /// Each passage's embedding; nil for one the service refused for good.
    func embed(_ batch: [PassageToEmbed]) async throws -> [(id: Int64, embedding: PassageEmbedding?)] {
        do {
            let vectors = try await embedder.embed(batch.map(\.body))
            return zip(batch, vectors).map { ($0.id, PassageEmbedding($1)) }
        } catch let error where error.kind == .rejected {
            guard batch.count > 1 else {
                logger.warning("the embeddings service refused a passage; it is found by full-text search alone", metadata: ["passage": "\(batch[0].id)", "error": "\(error.message)"])
                return [(batch[0].id, nil)]
            }
            var embedded: [(id: Int64, embedding: PassageEmbedding?)] = []
            for passage in batch { embedded += try await embed([passage]) }
            return embedded
        } catch {
            throw JobError.retryable(error.message, userMessage: "The document's passages could not be embedded yet.", retryAfter: error.retryAfter)
        }
    }
}

/// Keeps the `embed_passages` jobs coming: every few seconds it enqueues one
/// for each upload with passages still to embed (a unique job per upload,
/// so any number of workers may do this at once), whatever wrote the
/// passages — a page's checkpoint, a text upload on the API, the backfill
/// of earlier documents. At start it forgets the embeddings another model
/// wrote, so a changed `EMBEDDINGS_MODEL` embeds everything again.
struct EmbeddingScheduler: Service {
    let passages: PassageStore
    let queue: JobQueue
    let model: String
    let logger: Logger
    var interval: Duration = .seconds(2)
    /// Uploads looked at per round.
    var batchSize = 100
    var maxAttempts = 10

    func run() async throws {
        var forgotten = false
        var failing = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                if !forgotten {
                    // Once per start, whatever happens: it reads every passage, and
                    // must not be retried every few seconds if it cannot finish.
                    forgotten = true
                    do {
                        let count = try await cancelWhenGracefulShutdown { try await passages.forgetEmbeddings(notOf: model) }
                        if count > 0 { logger.notice("the embedding model changed: passages will be embedded again", metadata: ["passages": "\(count)", "model": "\(model)"]) }
                    } catch {
                        logger.warning("could not forget another model's embeddings; trying again at the next start", metadata: ["error": "\(error)"])
                    }
                }
                _ = try await cancelWhenGracefulShutdown { try await enqueueDue() }
                failing = false
            } catch {
                if !failing { logger.warning("could not schedule passage embeddings; retrying", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Enqueues an embedding job for each upload with passages still to embed
    /// (none for an upload that has one unfinished); returns how many were new.
    @discardableResult
    func enqueueDue() async throws -> Int {
        let uploads = try await passages.uploadsToEmbed(limit: batchSize)
        guard !uploads.isEmpty else { return 0 }
        return try await queue.database.transaction { [queue, maxAttempts] connection in
            var enqueued = 0
            for upload in uploads {
                let job = try NewJob(
                    kind: EmbeddingStage.jobKind,
                    queue: EmbeddingStage.queue,
                    args: EmbeddingJobArgs(uploadID: upload),
                    maxAttempts: maxAttempts,
                    uniqueKey: "\(EmbeddingStage.jobKind):\(upload.uuidString.lowercased())"
                )
                if try await queue.enqueue(job, on: connection) { enqueued += 1 }
            }
            if enqueued > 0 { try await queue.notify([EmbeddingStage.queue], on: connection) }
            return enqueued
        }
    }
}
