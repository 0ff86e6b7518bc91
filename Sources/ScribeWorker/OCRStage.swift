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
///
/// A PDF with two or more scanned pages is not read here: each scanned page
/// is split off and stored, then, in one transaction guarded by the lease,
/// the text-layer pages are checkpointed and a batch of `ocr_page` jobs
/// (``PageStage``) is enqueued with ``AssemblyStage`` as its completion, so
/// every worker's engines read the document's pages at once.
struct OCRStage: JobHandler {
    let kind = StageJobKind.ocr.rawValue
    let uploads: UploadStore
    let pages: UploadPageStore
    let chunks: UploadChunkStore
    let passages: PassageStore
    let queue: JobQueue
    let reader: DocumentReader

    func run(_ job: ClaimedJob) async throws -> JobCompletion {
        let args = try job.decodeArgs(UploadJobArgs.self)
        try await uploads.startStage(.ocr, messageID: args.messageID)
        guard let upload = try await uploads.upload(id: args.uploadID) else {
            throw JobError.permanent("the upload is gone", userMessage: "The file was deleted.")
        }
        let progress: ReadingProgress = { [uploads] pagesRead, pageCount in
            // Progress is for watching; failing to show it must not fail the reading.
            try? await uploads.reportReadingProgress(messageID: args.messageID, pagesRead: pagesRead, pageCount: pageCount)
        }
        let file = try await UploadFile.fetch(upload, uploads: uploads, chunks: chunks)
        defer { file.remove() }
        let document: RecognisedDocument
        if file.kind == .pdf {
            // A PDF is read from its file on disk, never whole in memory.
            let pdf = try await Self.reading(upload.filename) { () async throws(OCRError) in try await reader.surveyPDF(atPath: file.path) }
            if pdf.scannedPages.count >= 2 {
                try await split(pdf, of: upload, args: args, job: job)
                return .recorded
            }
            document = try await Self.reading(upload.filename) { () async throws(OCRError) in try await reader.read(pdf, progress: progress) }
        } else {
            let bytes = try file.bytes()
            document = try await Self.reading(upload.filename) { () async throws(OCRError) in
                try await reader.read(bytes, kind: file.kind, progress: progress)
            }
        }
        try await Self.record(
            text: document.text,
            pages: document.pages.map(AttachmentPage.init),
            passages: NewPassage.split(document),
            job: job,
            upload: upload,
            args: args,
            stores: (uploads, passages),
            queue: queue
        )
        return .recorded
    }

    /// Splits a long PDF into page jobs: stores each scanned page (a retried
    /// split stores nothing twice), then in one transaction guarded by the
    /// lease: the job succeeded, the text-layer pages checkpointed, the
    /// message showing the pages, and the batch of page jobs enqueued with
    /// the assembly as its completion. Throws `.leaseLost` (and enqueues
    /// nothing) when the lease no longer holds.
    func split(_ pdf: SurveyedPDF, of upload: UploadRecord, args: UploadJobArgs, job: ClaimedJob) async throws {
        try await Self.reading(upload.filename) { () async throws in
            try await pdf.eachScannedPage { page, bytes in try await pages.storeSource(uploadID: upload.id, page: page, bytes: bytes) }
        }
        let fairnessKey = upload.userID.uuidString.lowercased()
        let batch = NewBatch(
            jobs: try pdf.scannedPages.map { page in
                try NewJob(
                    kind: StageJobKind.ocrPage.rawValue,
                    queue: StageJobKind.ocrPage.queue,
                    args: PageJobArgs(uploadID: upload.id, messageID: args.messageID, page: page),
                    maxAttempts: job.maxAttempts,
                    fairnessKey: fairnessKey,
                    metadata: job.metadata
                )
            },
            completion: try NewJob(
                kind: StageJobKind.assemble.rawValue,
                queue: StageJobKind.assemble.queue,
                args: args,
                maxAttempts: job.maxAttempts,
                fairnessKey: fairnessKey,
                metadata: job.metadata
            )
        )
        let scanned = Set(pdf.scannedPages)
        let textPages = (1...pdf.pageCount).filter { !scanned.contains($0) }.map { number in
            UploadPage(
                page: number,
                text: pdf.textLayer[number - 1],
                reading: AttachmentPage(PageReading(number: number, source: .textLayer))
            )
        }
        let textPassages = textPages.flatMap { NewPassage.split(page: $0.page, text: $0.text) }
        try await queue.database.transaction { [pages, passages, queue] connection in
            try await queue.complete(job.lease, on: connection)
            try await passages.insert(textPassages, uploadID: upload.id, on: connection)
            try await pages.startReading(
                uploadID: upload.id,
                messageID: args.messageID,
                pageCount: pdf.pageCount,
                readPages: textPages,
                assemblyJobID: batch.completion.id,
                on: connection
            )
            try await queue.enqueue(batch, on: connection)
            try await queue.notify([StageJobKind.ocrPage.queue], on: connection)
        }
    }

    /// In one transaction guarded by the lease: the job succeeded, the text
    /// checkpointed with its `passages` indexed, the `answer` stage enqueued.
    /// Throws `.leaseLost` (and writes nothing) when the lease no longer holds.
    static func record(
        text: String,
        pages: [AttachmentPage],
        passages: [NewPassage],
        job: ClaimedJob,
        upload: UploadRecord,
        args: UploadJobArgs,
        stores: (uploads: UploadStore, passages: PassageStore),
        queue: JobQueue
    ) async throws {
        let next = try NewJob(
            kind: StageJobKind.answer.rawValue,
            queue: StageJobKind.answer.queue,
            args: args,
            maxAttempts: job.maxAttempts,
            fairnessKey: upload.userID.uuidString.lowercased(),
            metadata: job.metadata
        )
        try await queue.database.transaction { connection in
            try await queue.complete(job.lease, on: connection)
            try await stores.passages.insert(passages, uploadID: upload.id, on: connection)
            try await stores.uploads.checkpointText(
                uploadID: upload.id,
                text: text,
                pages: pages,
                answerJobID: next.id,
                on: connection
            )
            try await queue.enqueue(next, on: connection)
            try await queue.notify([StageJobKind.answer.queue], on: connection)
        }
    }

    /// Runs `body`, turning the OCR failures a person can act on into
    /// permanent job errors naming `filename`, and the rest into retryable ones.
    static func reading<Result>(_ filename: String, _ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as OCRError {
            if error.isPermanent {
                throw JobError.permanent("\(error.kind): \(error.message)", userMessage: "\(filename): \(error.message)")
            }
            throw JobError.retryable("\(error.kind): \(error.message)", userMessage: "\(filename) could not be read right now.")
        }
    }

    func jobsChanged(_ transitions: [JobTransition], on connection: PostgresConnection) async throws {
        try await uploads.setUploadMessages(FileFlow.messageStatuses(transitions), on: connection)
    }
}
