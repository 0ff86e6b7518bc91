import Foundation
import HTTPTypes
import Hummingbird
import ScribeDocuments
import ScribeDocuments
import ScribeQueue
import ScribePostgres
import ScribeStore
import ScribeFlows

/// How much an upload may carry.
public struct UploadLimits: Sendable {
    /// Per file; a larger file is a 413.
    public var maxFileBytes: Int
    /// Per request (the whole multipart body); larger is a 413.
    public var maxRequestBytes: Int
    /// Files per request.
    public var maxFiles: Int
    /// Attempts each job gets before it is `failed`.
    public var jobMaxAttempts: Int

    public init(maxFileBytes: Int, maxRequestBytes: Int, maxFiles: Int, jobMaxAttempts: Int) {
        self.maxFileBytes = maxFileBytes
        self.maxRequestBytes = maxRequestBytes
        self.maxFiles = maxFiles
        self.jobMaxAttempts = jobMaxAttempts
    }
}

/// `POST /v1/chat/file` (answers 202 at once; workers do the rest) and `GET /v1/jobs/{id}`.
struct UploadController {
    let flow: FileFlow
    /// Where the files are streamed as they arrive.
    let chunks: UploadChunkStore
    let limits: UploadLimits
    /// Files per day and files in flight per person.
    let quota: UploadQuota

    func addRoutes(to group: RouterGroup<ScribeRequestContext>) {
        group.post("chat/file", use: upload)
        // `jobs/{id}`: an upload's id, under the path clients have used since before stages.
        group.get("jobs/{id}", use: story)
    }

    struct UploadResponse: ResponseEncodable {
        struct Item: Encodable {
            var messageId: String
            /// The upload's id. Named `job_id` in the API for the clients
            /// that read it so before there were stages: `GET /v1/jobs/{id}`.
            var uploadId: String
            var filename: String

            enum CodingKeys: String, CodingKey {
                case messageId
                case uploadId = "jobId"
                case filename
            }
        }

        var messageId: String
        /// The first file's upload id, as `job_id` (see ``Item/uploadId``).
        var uploadId: String
        var conversationId: String
        var status: String
        /// One entry per file, in upload order (the top-level ids are the first file's).
        var items: [Item]

        enum CodingKeys: String, CodingKey {
            case messageId
            case uploadId = "jobId"
            case conversationId, status, items
        }
    }

    @Sendable func upload(_ request: Request, context: ScribeRequestContext) async throws -> Response {
        let user = try context.requireIdentity()
        guard let boundary = MultipartForm.boundary(fromContentType: request.headers[.contentType]) else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", message: "Send the files as multipart/form-data.")
        }
        let idempotencyKey = try Self.idempotencyKey(request)
        // Each file goes into the database a chunk at a time as it arrives; until
        // the uploads commit below, they are staged chunks, deleted on any error.
        let form = try await StreamedForm.read(request.body, boundary: boundary, limits: limits, chunks: chunks)
        do {
            return try await enqueue(form, idempotencyKey: idempotencyKey, user: user, request: request, context: context)
        } catch {
            await form.discard()
            throw error
        }
    }

    /// Checks the form's fields and files and enqueues the files.
    func enqueue(_ form: StreamedForm, idempotencyKey: String?, user: AuthenticatedUser, request: Request, context: ScribeRequestContext) async throws -> Response {
        guard let conversationText = form.text("conversation_id")?.trimmingCharacters(in: .whitespaces), !conversationText.isEmpty else {
            throw APIError.badRequest("The field 'conversation_id' is required.", field: "conversation_id")
        }
        guard let conversationID = UUID(uuidString: conversationText) else {
            throw APIError.badRequest("The field 'conversation_id' is not a valid id.", field: "conversation_id")
        }
        let caption = form.text("text")?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let caption, caption.unicodeScalars.contains("\u{0}") {
            throw APIError.badRequest(NULCharacter.message(field: "text"), field: "text")
        }
        if let caption, caption.count > ChatController.maxTextLength {
            throw APIError.invalid("text", code: "text_too_long", "'text' must be at most \(ChatController.maxTextLength) characters.")
        }
        let files = try checkedFiles(form)

        let enqueued: [EnqueuedUpload]
        do {
            enqueued = try await flow.enqueue(
                userID: user.id,
                conversationID: conversationID,
                caption: caption?.isEmpty == false ? caption : nil,
                files: files,
                idempotencyKey: idempotencyKey,
                maxAttempts: limits.jobMaxAttempts,
                quota: quota,
                requestID: context.requestID
            )
        } catch let error as StoreError where error.code == .notFound {
            throw APIError.notFound("Conversation")
        }
        // A replay answered from an earlier request stored nothing new.
        await form.discard(keeping: Set(enqueued.map(\.uploadID)))
        guard let first = enqueued.first else { throw APIError.badRequest("Attach at least one file.", field: "file") }
        let answer = UploadResponse(
            messageId: first.messageID.lowercasedString,
            uploadId: first.uploadID.lowercasedString,
            conversationId: first.conversationID.lowercasedString,
            status: first.status.rawValue,
            items: enqueued.map { .init(messageId: $0.messageID.lowercasedString, uploadId: $0.uploadID.lowercasedString, filename: $0.filename) }
        )
        var response = try context.responseEncoder.encode(answer, from: request, context: context)
        response.status = .accepted
        response.headers[.location] = "/v1/messages/\(first.messageID.lowercasedString)"
        return response
    }

    /// The file parts, each checked: not empty, a type Scribe reads (sniffed
    /// from the bytes, whatever the declared Content-Type says).
    func checkedFiles(_ form: StreamedForm) throws(APIError) -> [NewUpload] {
        guard !form.files.isEmpty else { throw APIError.badRequest("Attach at least one 'file'.", field: "file") }
        return try form.files.map { file throws(APIError) in
            let filename = Self.safeFilename(file.filename)
            guard file.size > 0 else {
                throw APIError(.unsupportedMediaType, code: "empty_file", message: "\(filename) is empty.", field: "file")
            }
            // Of a file of several chunks only its head is at hand.
            let sniffed = file.whole.map { DocumentKind.sniff($0.readableBytesView) }
                ?? DocumentKind.sniff(head: file.head.readableBytesView, ofLongerFile: file.size > file.head.readableBytes)
            guard let kind = sniffed else {
                throw APIError(
                    .unsupportedMediaType,
                    code: "unsupported_media_type",
                    message: "\(filename) is not a PNG, JPEG, TIFF, WebP, GIF, BMP, PDF or plain-text file.",
                    field: "file"
                )
            }
            if file.chunkCount == 0, let whole = file.whole {
                return NewUpload(filename: filename, contentType: kind.mediaType, bytes: whole)
            }
            return NewUpload(
                filename: filename, contentType: kind.mediaType, stagedAs: file.uploadID, size: file.size, chunkCount: file.chunkCount, whole: nil
            )
        }
    }

    @Sendable func story(_ request: Request, context: ScribeRequestContext) async throws -> JobResponse {
        let user = try context.requireIdentity()
        let id = try context.parameters.uuid("id", naming: "Job")
        guard let story = try await flow.story(uploadID: id, userID: user.id) else { throw APIError.notFound("Job") }
        return JobResponse(story)
    }

    static let idempotencyKeyHeader = HTTPField.Name("Idempotency-Key")!

    /// The `Idempotency-Key` header, if sent: 1 to 200 visible ASCII characters.
    static func idempotencyKey(_ request: Request) throws(APIError) -> String? {
        guard let key = request.headers[Self.idempotencyKeyHeader] else { return nil }
        guard (1...200).contains(key.count), key.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 }) else {
            throw APIError.badRequest("'Idempotency-Key' must be 1 to 200 visible ASCII characters.", field: "Idempotency-Key")
        }
        return key
    }

    /// A file name safe to store and show: no folders, no control characters, at most 255 characters.
    static func safeFilename(_ raw: String?) -> String {
        let base = (raw ?? "").split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(base.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }.map(Character.init))
            .trimmingCharacters(in: .whitespaces)
        return cleaned.isEmpty ? "upload" : String(cleaned.prefix(255))
    }
}

/// An upload's whole story: where the file is now (the fields of the stage
/// it is in, or ended in), and each stage's job.
struct JobResponse: ResponseEncodable {
    struct Stage: Encodable {
        var id: String
        var kind: String
        var state: String
        var attempt: Int
        var maxAttempts: Int
        var lastError: String?
        var errors: [JobRecord.AttemptError]
        var runAt: String
        var createdAt: String
        var startedAt: String?
        var finishedAt: String?

        init(_ job: JobRecord) {
            id = job.id.lowercasedString
            kind = job.kind
            state = job.state.rawValue
            attempt = job.attempt
            maxAttempts = job.maxAttempts
            lastError = job.lastError
            errors = job.errors
            runAt = job.runAt.rfc3339
            createdAt = job.createdAt.rfc3339
            startedAt = job.startedAt?.rfc3339
            finishedAt = job.finishedAt?.rfc3339
        }
    }

    var id: String
    var kind: String
    var state: String
    var attempt: Int
    var maxAttempts: Int
    var stage: String?
    var lastError: String?
    var messageId: String
    var conversationId: String
    var filename: String
    var contentType: String
    var size: Int
    var pages: Int?
    var runAt: String?
    var createdAt: String
    var startedAt: String?
    var finishedAt: String?
    /// The stage jobs in order (`ocr` is missing for a plain-text file, and
    /// any stage once its job is pruned).
    var stages: [Stage]

    init(_ story: UploadStory) {
        let upload = story.upload
        let current = story.current
        id = upload.id.lowercasedString
        kind = "upload"
        // Jobs pruned after JOB_RETENTION_SECONDS: what the upload row still knows.
        state = current?.state.rawValue ?? (upload.answeredAt == nil ? JobState.failed.rawValue : JobState.succeeded.rawValue)
        attempt = current?.attempt ?? 0
        maxAttempts = current?.maxAttempts ?? 0
        stage = story.stage?.rawValue
        lastError = current?.lastError
        messageId = upload.messageID.lowercasedString
        conversationId = upload.conversationID.lowercasedString
        filename = upload.filename
        contentType = upload.contentType
        size = upload.size
        pages = upload.pageCount
        runAt = current?.runAt.rfc3339
        createdAt = upload.createdAt.rfc3339
        startedAt = (story.ocr ?? story.answer)?.startedAt?.rfc3339
        finishedAt = current?.state == .succeeded || current?.state == .failed ? current?.finishedAt?.rfc3339 : nil
        stages = [story.ocr, story.answer].compactMap { $0 }.map(Stage.init)
    }
}
