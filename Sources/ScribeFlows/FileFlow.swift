import Foundation
import Logging
import NIOCore
import PostgresNIO
import ScribeDocuments
import ScribeQueue
import ScribePostgres
import ScribeStore

/// The file flow on top of the generic queue: an upload is stored with its
/// user message, then worked through as stage jobs, each on its own queue
/// with its own concurrency:
///
/// 1. `ocr` reads the file (OCR, a PDF's text layer), then, in one
///    transaction guarded by its lease, checkpoints the text and enqueues
///    `answer`. A plain-text file skips it: its text is known at upload.
///    A PDF with two or more scanned pages is read page by page instead: the
///    `ocr` job splits each scanned page off and enqueues a batch of
///    `ocr_page` jobs (each checkpoints its page as it completes), whose
///    completion, `ocr_assemble`, puts the pages together in order,
///    checkpoints the text and enqueues `answer`.
/// 2. `answer` asks the LLM with the conversation's history, then, in one
///    transaction guarded by its lease, writes the assistant message and
///    marks the file done: exactly one answer per file.
///
/// The stage handlers, not the queue, keep the file's message in step:
/// `queued` and `processing` with its `stage`, then `done`, or `failed` with
/// a sentence for the person.
public struct FileFlow: Sendable {
    package let stores: Stores
    package let queue: JobQueue
    /// Each person's turns at their counter rows, within this process: one per row.
    let turns = KeyedTurns(holders: UploadStore.filesInFlightRows)

    public init(stores: Stores, queue: JobQueue) {
        self.stores = stores
        self.queue = queue
    }

    /// The queues the stages run on, with their slots in one worker process:
    /// `ocr` (whole files, a long PDF's pages and their assembly) as many as
    /// there are OCR engines, `answer` as many LLM calls as may be in flight at once.
    public static func queues(ocrEngines: Int, llmConcurrency: Int) -> [String: Int] {
        [StageJobKind.ocr.queue: ocrEngines, StageJobKind.answer.queue: llmConcurrency]
    }

    // MARK: Enqueue

    /// Enqueues uploaded files: per file one user message (`queued`, with its
    /// attachment and the caption), its upload row holding the bytes, and its
    /// first stage job, all in ONE transaction that also nudges the workers.
    ///
    /// Each file counts as one request against the user's `quota`, and the
    /// user's files in flight may not pass its cap; both are checked last in
    /// the same transaction, so a refused upload leaves nothing behind.
    /// `requestID` follows the stage jobs into the workers' logs.
    ///
    /// With an `idempotencyKey` already used by this user, nothing is written
    /// and the first request's answer is returned (and counted no further).
    ///
    /// - Throws: ``StoreError`` `.notFound` when the conversation is not the
    ///   user's; ``DailyLimitReached`` or ``FilesInFlightLimitReached`` when
    ///   the files do not fit the quota.
    public func enqueue(
        userID: UUID,
        conversationID: UUID,
        caption: String?,
        files: [NewUpload],
        idempotencyKey: String?,
        maxAttempts: Int,
        quota: UploadQuota = UploadQuota(),
        requestID: String? = nil
    ) async throws -> [EnqueuedUpload] {
        if let idempotencyKey, let earlier = try await stores.uploads.uploads(userID: userID, idempotencyKey: idempotencyKey) {
            return earlier
        }
        // Storing the bytes takes time of its own: a second more per 10 MB.
        let bytes = files.reduce(0) { $0 + ($1.bytes?.readableBytes ?? 0) }
        let timeout = queue.database.options.timeout + .milliseconds(bytes / 10_000)
        let fairnessKey = userID.uuidString.lowercased()
        let turn = TurnHeld()
        defer { turn.release(userID, to: turns) }
        do {
            return try await queue.database.transaction(timeout: timeout) { [stores, queue, turns] connection in
                var enqueued: [EnqueuedUpload] = []
                var queues: Set<String> = []
                for (position, file) in files.enumerated() {
                    let uploadID = file.stagedUploadID ?? UUID.v7()
                    let jobID = UUID.v7()
                    let knownText = Self.knownText(of: file)
                    let stage = knownText == nil ? StageJobKind.ocr : .answer
                    let message = try await stores.uploads.insertUpload(
                        id: uploadID,
                        userID: userID,
                        conversationID: conversationID,
                        caption: caption,
                        file: file,
                        idempotencyKey: idempotencyKey,
                        requestPosition: position,
                        knownText: knownText,
                        ocrJobID: knownText == nil ? jobID : nil,
                        answerJobID: knownText == nil ? nil : jobID,
                        filesInFlightCap: quota.maxFilesInFlight,
                        on: connection
                    )
                    if let knownText {
                        try await stores.passages.insert(NewPassage.split(page: 1, text: knownText.text), uploadID: uploadID, on: connection)
                    }
                    let job = try NewJob(
                        kind: stage.rawValue,
                        queue: stage.queue,
                        args: UploadJobArgs(uploadID: uploadID, messageID: message.id),
                        maxAttempts: maxAttempts,
                        fairnessKey: fairnessKey,
                        metadata: Self.jobMetadata(requestID: requestID),
                        id: jobID
                    )
                    // The workers of its queue nudged in the same round trip (delivered
                    // at the commit, wherever it is sent: before the turn, out of its way).
                    try await queue.enqueue(job, nudging: queues.insert(stage.queue).inserted, on: connection)
                    enqueued.append(
                        EnqueuedUpload(messageID: message.id, uploadID: uploadID, conversationID: conversationID, filename: file.filename, status: .queued)
                    )
                }
                // Last, so the locks they take are held only until the commit; and in
                // one of the person's turns in this process, so at most one of their
                // uploads per counter row waits on those rows (``KeyedTurns``). The
                // turn ends after the commit, where the files are counted against
                // the cap (``UploadStore/insertUpload``).
                try await turn.take(userID, from: turns)
                if let dailyLimit = quota.dailyLimit {
                    _ = try await stores.usage.chargeDailyRequests(files.count, userID: userID, limit: dailyLimit, on: connection)
                }
                return enqueued
            }
        } catch {
            // The commit refused past the cap.
            if let refused = FilesInFlightLimitReached(error, limit: quota.maxFilesInFlight) { throw refused }
            // A concurrent request with the same key won the race: answer as it did.
            if let duplicate = error as? PSQLError, duplicate.isUniqueViolation, let idempotencyKey,
                let earlier = try await stores.uploads.uploads(userID: userID, idempotencyKey: idempotencyKey)
            {
                return earlier
            }
            throw error
        }
    }

    /// What a stage job carries for its logs: the request that created it.
    package static func jobMetadata(requestID: String?) -> [String: String] {
        requestID.map { ["request_id": $0] } ?? [:]
    }

    /// The text of a plain-text file, known without the `ocr` stage (nil for
    /// any other file, and for a blank one, which `ocr` fails with its reason).
    package static func knownText(of file: NewUpload) -> (text: String, pages: [AttachmentPage])? {
        guard file.contentType == DocumentKind.plainText.mediaType else { return nil }
        guard let bytes = file.bytes else { return nil }
        let document = RecognisedDocument.plainText(bytes.readableBytesView)
        guard !document.text.isBlank else { return nil }
        return (document.text, document.pages.map(AttachmentPage.init))
    }

    // MARK: Reads

    /// The whole story of an upload (`GET /v1/jobs/{id}`), if `userID` owns it.
    public func story(uploadID: UUID, userID: UUID) async throws -> UploadStory? {
        guard let upload = try await stores.uploads.upload(id: uploadID, userID: userID) else { return nil }
        let jobs = try await queue.jobs(ids: [upload.ocrJobID, upload.answerJobID].compactMap { $0 })
        return UploadStory(
            upload: upload,
            ocr: jobs.first { $0.id == upload.ocrJobID },
            answer: jobs.first { $0.id == upload.answerJobID }
        )
    }

    // MARK: Transitions

    /// What a stage job's message shows after the queue changed the job: a
    /// job that will run again leaves its message `queued`; a job that will
    /// not fails it with a sentence for the person.
    package static func messageStatuses(_ transitions: [JobTransition]) -> [UploadMessageStatus] {
        transitions.compactMap { transition in
            guard let args = transition.decodeArgs(UploadJobArgs.self) else { return nil }
            guard transition.state == .failed else { return UploadMessageStatus(uploadID: args.uploadID, status: .queued) }
            let sentence = failureSentence(transition, ifItStopped: "Processing this file stopped unexpectedly \(transition.maxAttempts) times; giving up.")
            return UploadMessageStatus(uploadID: args.uploadID, status: .failed, error: sentence)
        }
    }

    /// Why a job that will not run again gave up, for the person: its
    /// permanent error, its last error after all its attempts, or
    /// `stopped` when its workers kept dying (or were stopped) under it.
    package static func failureSentence(_ transition: JobTransition, ifItStopped stopped: String) -> String {
        switch transition.cause {
        case .failed(let error) where error.isPermanent: error.userMessage
        case .failed(let error): "\(error.userMessage) Gave up after \(transition.maxAttempts) attempts."
        case .leaseExpired, .handedBack: stopped
        }
    }
}

/// The args of a stage job: the upload and its user message.
package struct UploadJobArgs: Codable, Sendable {
    package var uploadID: UUID
    package var messageID: UUID

    package init(uploadID: UUID, messageID: UUID) {
        self.uploadID = uploadID
        self.messageID = messageID
    }

    enum CodingKeys: String, CodingKey {
        case uploadID = "upload_id"
        case messageID = "message_id"
    }
}

/// The args of an `ocr_page` job: one scanned page of an upload.
package struct PageJobArgs: Codable, Sendable {
    package var uploadID: UUID
    package var messageID: UUID
    package var page: Int

    package init(uploadID: UUID, messageID: UUID, page: Int) {
        self.uploadID = uploadID
        self.messageID = messageID
        self.page = page
    }

    enum CodingKeys: String, CodingKey {
        case uploadID = "upload_id"
        case messageID = "message_id"
        case page
    }
}

/// An upload and its stage jobs (a stage's job is nil before it is
/// enqueued, when the file skipped it, and after pruning).
public struct UploadStory: Sendable {
    public var upload: UploadRecord
    public var ocr: JobRecord?
    public var answer: JobRecord?

    /// The job of the stage the file is in, or ended in.
    public var current: JobRecord? { answer ?? ocr }

    /// The stage the file is in, or ended in when it failed; nil when done.
    public var stage: Stage? {
        guard let current else { return upload.answeredAt == nil ? .queued : nil }
        if current.state == .succeeded { return nil }
        if current.id == answer?.id { return .llm }
        return current.state == .available && current.attempt == 0 ? .queued : .ocr
    }
}

extension NewPassage {
    /// The passages of one page's text, as retrieval indexes them
    /// (``PassageSplitter``'s defaults); `page` nil when it is not known.
    package static func split(page: Int?, text: String) -> [NewPassage] {
        PassageSplitter().passages(of: text).map { passage in
            NewPassage(page: page, ordinal: passage.ordinal, startOffset: passage.start, endOffset: passage.end, body: passage.body, words: passage.words)
        }
    }

    /// The passages of every page of `document`.
    package static func split(_ document: RecognisedDocument) -> [NewPassage] {
        document.pageTexts.enumerated().flatMap { index, text in split(page: index + 1, text: text) }
    }
}

extension AttachmentPage {
    /// A scanned page that could not be read: no text, and `warning` saying why.
    package static func skipped(page: Int, warning: String) -> AttachmentPage {
        AttachmentPage(page: page, source: PageReading.Source.ocr.rawValue, rotation: 0, skew: 0, dpi: nil, confidence: nil, warning: warning)
    }

    /// How a page was read, in the shape stored with the message.
    package init(_ reading: PageReading) {
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

/// How much one person may upload: files per UTC day (each file is one
/// request) and files waiting to be read or answered at once. Nil: no cap.
public struct UploadQuota: Sendable, Hashable {
    public var dailyLimit: Int?
    public var maxFilesInFlight: Int?

    public init(dailyLimit: Int? = nil, maxFilesInFlight: Int? = nil) {
        self.dailyLimit = dailyLimit
        self.maxFilesInFlight = maxFilesInFlight
    }
}
