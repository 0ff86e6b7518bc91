import PostgresNIO

/// Where a message on its way to an answer is: the stage its file (or chat)
/// is waiting for or in. One type for what is stored with the message
/// (`messages.stage`), what the API shows (`stage`) and which queue job runs
/// the stage (`jobKind`).
public enum Stage: String, Sendable, Hashable, CaseIterable, PostgresCodable {
    /// Waiting for its first stage to start.
    case queued
    /// Being read: OCR, a PDF's text layer.
    case ocr
    /// Being answered by the LLM.
    case llm

    /// The kind, and queue, of the job that runs this stage; nil for `queued`, which no job runs.
    public var jobKind: String? {
        switch self {
        case .queued: nil
        case .ocr: "ocr"
        case .llm: "answer"
        }
    }

    /// The stage a job of `kind` runs, if it is one of them.
    public init?(jobKind kind: String) {
        guard let stage = Self.allCases.first(where: { $0.jobKind == kind }) else { return nil }
        self = stage
    }
}
