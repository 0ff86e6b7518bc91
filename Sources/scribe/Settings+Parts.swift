import ScribeConfig
import ScribeFlows
import ScribeLLM
import ScribeOCR
import ScribeQueue
import ScribeWorker

// Each part's configuration from the settings read from the environment:
// the one place where the configuration meets the modules it configures.

extension QueueWorkerConfiguration {
    /// A worker's queues and timings: the file flow's stages on queues of
    /// their own (OCR on the engines, LLM calls up to `llmConcurrency`), and
    /// `default` for any other background work.
    /// With embeddings configured, the `embed` queue gets `embeddingsConcurrency` slots.
    init(_ settings: WorkerSettings, ocrEngines: Int, llmConcurrency: Int, embeddingsConcurrency: Int? = nil) {
        var queues = ["default": settings.defaultQueueConcurrency]
            .merging(FileFlow.queues(ocrEngines: ocrEngines, llmConcurrency: llmConcurrency)) { first, _ in first }
        if let embeddingsConcurrency { queues[WorkerServices.embeddingQueue] = embeddingsConcurrency }
        self.init(
            queues: queues,
            leaseDuration: settings.leaseDuration,
            pollInterval: settings.pollInterval,
            rescueInterval: settings.rescueInterval,
            shutdownGrace: settings.shutdownGrace,
            jobTimeout: settings.jobTimeout,
            retryBase: settings.retryBase,
            retryCap: settings.retryCap,
            jobRetention: settings.jobRetention
        )
    }
}

extension OCRConfiguration {
    init(_ settings: OCRSettings) {
        self.init(
            languages: settings.languages,
            tessdataPath: settings.tessdataPath,
            engineCount: settings.engineCount,
            maxPixelsPerImage: settings.maxPixelsPerImage,
            maxPagesPerPDF: settings.maxPagesPerPDF,
            pageTimeBudget: settings.pageTimeBudget,
            pdfRenderDPI: settings.pdfRenderDPI,
            threadNiceness: settings.threadNiceness
        )
    }
}

extension ChatCompletionsClient.Configuration {
    init(_ endpoint: LLMEndpoint) {
        self.init(
            baseURL: endpoint.baseURL,
            apiKey: endpoint.apiKey,
            model: endpoint.model,
            maxTokens: endpoint.maxTokens,
            attemptTimeout: endpoint.attemptTimeout,
            totalTimeout: endpoint.totalTimeout,
            maxAttempts: endpoint.maxAttempts,
            maxConnections: endpoint.maxConnections
        )
    }
}

extension EmbeddingsClient.Configuration {
    init(_ settings: EmbeddingsSettings) {
        self.init(baseURL: settings.baseURL, apiKey: settings.apiKey, model: settings.model, timeout: settings.timeout, batchSize: settings.batchSize)
    }
}

extension ScribeConfiguration {
    /// How a worker process runs its queues.
    var queueWorker: QueueWorkerConfiguration {
        QueueWorkerConfiguration(worker, ocrEngines: ocr.engineCount, llmConcurrency: llmConcurrency, embeddingsConcurrency: embeddings?.concurrency)
    }

    /// The OCR engines' configuration.
    var ocrEngines: OCRConfiguration { OCRConfiguration(ocr) }
}
