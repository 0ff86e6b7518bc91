import Foundation
import NIOCore
import PostgresNIO

/// The states of a job; see `sql/002_jobs.sql`.
public enum JobState: String, Sendable, Hashable, PostgresCodable {
    case available, running, succeeded, failed, cancelled
}

/// The kinds of job Scribe runs.
public enum JobKind: String, Sendable, Hashable, PostgresCodable {
    /// Recognise an uploaded file's text and answer it.
    case processUpload = "process_upload"
    /// Does nothing: the queue's own overhead, for benchmarks.
    case noop
}

/// A job as its owner sees it (`GET /v1/jobs/{id}`).
public struct Job: Sendable, Hashable {
    public var id: UUID
    public var kind: JobKind
    public var state: JobState
    public var attempt: Int
    public var maxAttempts: Int
    public var stage: String?
    public var lastError: String?
    public var messageID: UUID?
    public var conversationID: UUID?
    public var filename: String?
    public var contentType: String?
    public var size: Int?
    public var runAt: Date
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
}

/// A worker's claim on one attempt of a job. Every outcome is recorded only
/// while the lease still holds: same worker, same attempt, still running.
public struct JobLease: Sendable, Hashable, CustomStringConvertible {
    public var jobID: UUID
    public var workerID: String
    public var attempt: Int

    public init(jobID: UUID, workerID: String, attempt: Int) {
        self.jobID = jobID
        self.workerID = workerID
        self.attempt = attempt
    }

    public var description: String { "\(jobID)#\(attempt)@\(workerID)" }
}

/// A job a worker has just claimed: what it needs to run it (the bytes are read separately).
public struct ClaimedJob: Sendable {
    public var lease: JobLease
    public var kind: JobKind
    public var maxAttempts: Int
    public var messageID: UUID?
    public var conversationID: UUID?
    public var filename: String?
    public var contentType: String?
    /// The OCR checkpoint of an earlier attempt: when set, OCR is not run again.
    public var ocrText: String?
}

/// A file to enqueue: its name, its sniffed type and its bytes.
public struct NewUpload: Sendable {
    public var filename: String
    public var contentType: String
    public var bytes: ByteBuffer

    public init(filename: String, contentType: String, bytes: ByteBuffer) {
        self.filename = filename
        self.contentType = contentType
        self.bytes = bytes
    }
}

/// What the upload endpoint answers for one enqueued file.
public struct EnqueuedUpload: Sendable, Hashable {
    public var messageID: UUID
    public var jobID: UUID
    public var conversationID: UUID
    public var filename: String
    public var status: MessageStatus
}
