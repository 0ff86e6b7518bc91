import PostgresNIO
import ScribeDocuments
import ScribeOCR
import ScribeFlows
import ScribeQueue
import ScribePostgres
import ScribeStore

/// The `ocr_page` stage: reads one scanned page of a long PDF (its one-page
/// PDF, split off by ``OCRStage``), then in one transaction guarded by the
/// job's lease completes the job and checkpoints the page's text, counted
/// on the message. The job's completion comes first in that transaction:
/// the batch's row is locked before the message's, as the rescuer locks them.
///
/// A page that fails for good (unreadable, over its time limit, attempts
/// spent) is checkpointed empty with a warning, in the transaction that
/// failed it: the document goes on without it.
struct PageStage: JobHandler {
    let kind = StageJobKind.ocrPage.rawValue
    let pages: UploadPageStore
    let passages: PassageStore
    let queue: JobQueue
    let reader: DocumentReader

    func run(_ job: ClaimedJob) async throws -> JobCompletion {
        let args = try job.decodeArgs(PageJobArgs.self)
        guard let source = try await pages.source(uploadID: args.uploadID, page: args.page) else {
            throw JobError.permanent("the page is gone", userMessage: "Page \(args.page) is no longer stored.")
        }
        let recognised = try await OCRStage.reading("Page \(args.page)") { () async throws(OCRError) in
            try await reader.readPDFPage(Array(source.readableBytesView))
        }
        var placed = recognised.reading
        placed.number = args.page
        let reading = AttachmentPage(placed)
        let pagePassages = NewPassage.split(page: args.page, text: recognised.text)
        try await queue.database.transaction { [pages, passages, queue] connection in
            try await queue.complete(job.lease, on: connection)
            let checkpointed = try await pages.checkpoint(
                uploadID: args.uploadID,
                messageID: args.messageID,
                page: args.page,
                text: recognised.text,
                reading: reading,
                on: connection
            )
            if checkpointed { try await passages.insert(pagePassages, uploadID: args.uploadID, on: connection) }
        }
        return .recorded
    }

    func jobsChanged(_ transitions: [JobTransition], on connection: PostgresConnection) async throws {
        for transition in transitions where transition.state == .failed {
            guard let args = transition.decodeArgs(PageJobArgs.self) else { continue }
            let why = FileFlow.failureSentence(
                transition, ifItStopped: "Page \(args.page): reading it stopped unexpectedly \(transition.maxAttempts) times; it was skipped."
            )
            try await pages.checkpoint(
                uploadID: args.uploadID,
                messageID: args.messageID,
                page: args.page,
                text: "",
                reading: .skipped(page: args.page, warning: why),
                on: connection
            )
        }
    }
}

/// The `ocr_assemble` stage, the completion of a long PDF's page batch: puts
/// the checkpointed pages together in page order, then, as ``OCRStage``
/// does for a whole file, in one transaction guarded by the job's lease
/// checkpoints the document's text and enqueues `answer`.
///
/// Pages that could not be read keep their warning in `page_details`; the
/// document goes on when any page has text, and its message fails, naming
/// the pages, when none has.
struct AssemblyStage: JobHandler {
    let kind = StageJobKind.assemble.rawValue
    let uploads: UploadStore
    let pages: UploadPageStore
    let passages: PassageStore
    let queue: JobQueue

    func run(_ job: ClaimedJob) async throws -> JobCompletion {
        let args = try job.decodeArgs(UploadJobArgs.self)
        guard let upload = try await uploads.upload(id: args.uploadID) else {
            throw JobError.permanent("the upload is gone", userMessage: "The file was deleted.")
        }
        let stored = try await pages.pages(uploadID: upload.id)
        let readings = stored.map { page in
            page.reading ?? .skipped(page: page.page, warning: "Page \(page.page) was not read.")
        }
        let text = stored.map(\.text.trimmedWhitespace).filter { !$0.isEmpty }.joined(separator: "\n\n")
        guard !text.isEmpty else {
            throw JobError.permanent(
                "no page has text",
                userMessage: "No text was found in \(upload.filename): \(Self.describe(stored.map(\.page))) could not be read or have no text."
            )
        }
        // Each page's passages were indexed with its checkpoint.
        try await OCRStage.record(
            text: text, pages: readings, passages: [], job: job, upload: upload, args: args, stores: (uploads, passages), queue: queue
        )
        return .recorded
    }

    /// "page 3", "pages 1–40", or "pages 2, 5, 9".
    static func describe(_ numbers: [Int]) -> String {
        guard let first = numbers.first, let last = numbers.last else { return "no pages" }
        if numbers.count == 1 { return "page \(first)" }
        if last - first + 1 == numbers.count { return "pages \(first)–\(last)" }
        return "pages " + numbers.map(String.init).joined(separator: ", ")
    }

    func jobsChanged(_ transitions: [JobTransition], on connection: PostgresConnection) async throws {
        try await uploads.setUploadMessages(FileFlow.messageStatuses(transitions), on: connection)
    }
}
