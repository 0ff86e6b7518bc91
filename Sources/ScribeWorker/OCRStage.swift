import PostgresNIO
import ScribeDocuments
import ScribeOCR
import ScribeFlows
import ScribeQueue
import ScribePostgres
import ScribeStore

/// The `ocr` stage: reads an upload's text (OCR, a PDF's text layer, plain
/// text), then in one transaction guarded by the job's lease checkpoints it
/// and enqueues the `answer` stage. A worker that lost its lease writes
/// nothing, and the `answer` job exists exactly when the checkpoint does.
struct OCRStage: JobHandler {
    let kind = StageJobKind.ocr.rawValue
    let uploads: UploadStore
    let queue: JobQueue
    let reader: DocumentReader

    func run(_ job: ClaimedJob) async throws -> JobCompletion {
        let args = try job.decodeArgs(UploadJobArgs.self)
        try await uploads.startStage(.ocr, messageID: args.messageID)
        guard let upload = try await uploads.upload(id: args.uploadID) else {
            throw JobError.permanent("the upload is gone", userMessage: "The file was deleted.")
        }
        let document = try await read(upload) { [uploads] pagesRead, pageCount in
            // Progress is for watching; failing to show it must not fail the reading.
            try? await uploads.reportReadingProgress(messageID: args.messageID, pagesRead: pagesRead, pageCount: pageCount)
        }
        try await record(job, upload: upload, args: args, document: document)
        return .recorded
    }

    /// In one transaction guarded by the lease: the job succeeded, the text
    /// checkpointed, the `answer` stage enqueued. Throws `.leaseLost` (and
    /// writes nothing) when the lease no longer holds.
    func record(_ job: ClaimedJob, upload: UploadRecord, args: UploadJobArgs, document: RecognisedDocument) async throws {
        let next = try NewJob(
            kind: StageJobKind.answer.rawValue,
            queue: StageJobKind.answer.rawValue,
            args: args,
            maxAttempts: job.maxAttempts,
            fairnessKey: upload.userID.uuidString.lowercased(),
            metadata: job.metadata
        )
        try await queue.database.transaction { [uploads, queue] connection in
            try await queue.complete(job.lease, on: connection)
            try await uploads.checkpointText(
                uploadID: upload.id,
                text: document.text,
                pages: document.pages.map(AttachmentPage.init),
                answerJobID: next.id,
                on: connection
            )
            try await queue.enqueue(next, on: connection)
            try await queue.notify([StageJobKind.answer.rawValue], on: connection)
        }
    }

    /// The file's text, with the failures a person can act on made permanent.
    func read(_ upload: UploadRecord, progress: @escaping ReadingProgress) async throws -> RecognisedDocument {
        guard let payload = try await uploads.payload(ofUpload: upload.id) else {
            throw JobError.permanent("the upload's bytes are gone", userMessage: "\(upload.filename) is no longer stored; please upload it again.")
        }
        let bytes = Array(payload.readableBytesView)
        guard let kind = DocumentKind.sniff(bytes) else {
            throw JobError.permanent("unrecognised file type", userMessage: "\(upload.filename) is not an image, PDF or text file Scribe can read.")
        }
        do {
            return try await reader.read(bytes, kind: kind, progress: progress)
        } catch {
            if error.isPermanent {
                throw JobError.permanent("\(error.kind): \(error.message)", userMessage: "\(upload.filename): \(error.message)")
            }
            throw JobError.retryable("\(error.kind): \(error.message)", userMessage: "\(upload.filename) could not be read right now.")
        }
    }

    func jobsChanged(_ transitions: [JobTransition], on connection: PostgresConnection) async throws {
        try await uploads.setUploadMessages(FileFlow.messageStatuses(transitions), on: connection)
    }
}
