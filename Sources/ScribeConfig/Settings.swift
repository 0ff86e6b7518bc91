/// The settings of each part, as read from the environment. Plain values:
/// the configuration knows no Scribe module, and `scribe` turns each into the
/// part's own configuration.

/// `WORKER_*`, `JOB_*`: how a worker process runs jobs.
public struct WorkerSettings: Sendable, Hashable {
    /// `WORKER_CONCURRENCY`: slots on the `default` queue (work other than the file stages).
    public var defaultQueueConcurrency: Int
    public var leaseDuration: Duration
    public var pollInterval: Duration
    public var rescueInterval: Duration
    public var shutdownGrace: Duration
    public var jobTimeout: Duration
    public var retryBase: Duration
    public var retryCap: Duration
    /// How long an answered upload keeps its bytes (zero: dropped with the answer).
    public var payloadRetention: Duration
    public var jobRetention: Duration
}

/// `OCR_*`, `PDF_RENDER_DPI`, `TESSDATA_PREFIX`: the OCR engines.
public struct OCRSettings: Sendable, Hashable {
    public var languages: String
    public var tessdataPath: String?
    public var engineCount: Int
    public var maxPixelsPerImage: Int
    public var maxPagesPerPDF: Int
    public var pageTimeBudget: Duration
    public var pdfRenderDPI: Int
    public var threadNiceness: Int
}

/// An OpenAI-compatible Chat Completions endpoint (`LLM_*`, `MISTRAL_*`).
/// Its description never shows the key.
public struct LLMEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The API root, including `/v1`.
    public var baseURL: String
    public var apiKey: String?
    public var model: String
    public var maxTokens: Int?
    public var attemptTimeout: Duration
    public var totalTimeout: Duration
    public var maxAttempts: Int
    /// Connections to the provider, and LLM calls in flight (`LLM_CONCURRENCY`).
    public var maxConnections: Int

    public var description: String {
        "LLMEndpoint(baseURL: \(baseURL), model: \(model), apiKey: \(apiKey == nil ? "none" : "<redacted>"))"
    }
}

/// `EMBEDDINGS_*`: an OpenAI-compatible `/v1/embeddings` for semantic
/// retrieval, used when `EMBEDDINGS_BASE_URL` and `EMBEDDINGS_MODEL` are both
/// set. Its description never shows the key.
public struct EmbeddingsSettings: Sendable, Hashable, CustomStringConvertible {
    /// The API root, including `/v1`.
    public var baseURL: String
    /// `EMBEDDINGS_API_KEY`.
    public var apiKey: String?
    public var model: String
    /// `EMBEDDINGS_TIMEOUT_MS`: bounds one request (a question waits at most this long for its vector).
    public var timeout: Duration
    /// `EMBEDDINGS_BATCH_SIZE`: passages sent in one request.
    public var batchSize: Int
    /// `EMBEDDINGS_CONCURRENCY`: the `embed` queue's slots in one worker.
    public var concurrency: Int
    /// `EMBEDDINGS_MIN_SIMILARITY`: the least cosine similarity a passage
    /// needs to count as near a question (it depends on the model).
    public var minimumSimilarity: Double

    public var description: String {
        "EmbeddingsSettings(baseURL: \(baseURL), model: \(model), apiKey: \(apiKey == nil ? "none" : "<redacted>"))"
    }
}
