import Logging
import ScribeChat
import ScribeLLM
import ScribeOCR
import ScribeQueue
import ScribeStore

/// The file flow, top to bottom: read the upload's text (OCR, the PDF's text
/// layer, or the plain text itself), checkpoint it, ask the LLM with the
/// conversation's history, and store the answer in one final transaction.
///
/// A retry after a crash in the LLM step starts from the checkpoint and does
/// not OCR again. Every write is guarded by the job's lease.
public struct UploadPipeline: JobHandler {
    let store: Store
    let reader: DocumentReader
    let responder: ChatResponder
    /// Drop the upload's bytes in the final transaction (retention zero).
    let dropPayloadOnSuccess: Bool

    public init(store: Store, reader: DocumentReader, responder: ChatResponder, dropPayloadOnSuccess: Bool) {
        self.store = store
        self.reader = reader
        self.responder = responder
        self.dropPayloadOnSuccess = dropPayloadOnSuccess
    }

    public func run(_ job: ClaimedJob) async throws -> JobCompletion {
        switch job.kind {
        case .processUpload:
            try await processUpload(job)
            return .recorded
        case .noop:
            return .acknowledge
        }
    }

    func processUpload(_ job: ClaimedJob) async throws {
        let text = try await recognisedText(of: job)
        guard let messageID = job.messageID, let message = try await store.message(id: messageID) else {
            throw JobError.permanent("the job's message is gone", userMessage: "The message was deleted.")
        }
        var question = message
        question.documentText = text
        let completion = try await answer(question)
        try await store.completeUpload(
            job.lease,
            answer: completion.content,
            metadata: responder.metadata(for: completion),
            dropPayload: dropPayloadOnSuccess
        )
    }

    /// The checkpointed text, or the file read now and checkpointed.
    func recognisedText(of job: ClaimedJob) async throws -> String {
        if let text = job.ocrText { return text }
        let filename = job.filename ?? "The file"
        guard let payload = try await store.payload(of: job.lease) else {
            throw JobError.permanent("the upload's bytes are gone", userMessage: "\(filename) is no longer stored; please upload it again.")
        }
        let bytes = Array(payload.readableBytesView)
        guard let kind = DocumentKind.sniff(bytes) else {
            throw JobError.permanent("unrecognised file type", userMessage: "\(filename) is not an image, PDF or text file Scribe can read.")
        }
        let document: RecognisedDocument
        do {
            document = try await reader.read(bytes, kind: kind)
        } catch {
            if error.isPermanent {
                throw JobError.permanent("\(error.kind): \(error.message)", userMessage: "\(filename): \(error.message)")
            }
            throw JobError.retryable("\(error.kind): \(error.message)", userMessage: "\(filename) could not be read right now.")
        }
        try await store.checkpointOCR(job.lease, text: document.text, pages: document.pages.map(AttachmentPage.init))
        return document.text
    }

    /// Asks the LLM, mapping its failures to retryable or permanent job errors.
    func answer(_ message: Message) async throws -> ChatCompletion {
        do {
            return try await responder.answer(message)
        } catch let error as LLMError {
            if error.kind == .cancelled { throw CancellationError() }
            let userMessage = error.userMessage
            if error.isRetryable {
                throw JobError.retryable("llm \(error.kind): \(error.message)", userMessage: userMessage, retryAfter: error.retryAfter)
            }
            throw JobError.permanent("llm \(error.kind): \(error.message)", userMessage: userMessage)
        }
    }
}

extension AttachmentPage {
    /// How a page was read, in the shape stored with the message.
    init(_ reading: PageReading) {
        self.init(
            page: reading.number,
            source: reading.source.rawValue,
            rotation: reading.rotation,
            skew: reading.skew,
            dpi: reading.resolution,
            confidence: reading.confidence,
            warning: reading.warning
        )
    }
}
