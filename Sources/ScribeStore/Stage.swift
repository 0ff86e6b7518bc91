import PostgresNIO

/// Where a message on its way to an answer is: the stage its file (or chat)
/// is waiting for or in. One type for what is stored with the message
/// (`messages.stage`) and what the API shows (`stage`); ``StageJobKind``
/// names the queue jobs that run the stages.
public enum Stage: String, Sendable, Hashable, CaseIterable, PostgresCodable {
    /// Waiting for its first stage to start.
    case queued
    /// Being read: OCR, a PDF's text layer.
    case ocr
    /// Being answered by the LLM.
    case llm
}

/// The kinds of the queue jobs that run a message's stages.
public enum StageJobKind: String, Sendable, Hashable, CaseIterable {
    /// Reads a file (`Stage.ocr`): a whole image or short PDF, or a long
    /// PDF's survey, which splits its scanned pages into `ocrPage` jobs.
    case ocr
    /// Reads one scanned page of a long PDF.
    case ocrPage = "ocr_page"
    /// Puts a long PDF's pages together once all are read (their batch's completion).
    case assemble = "ocr_assemble"
    /// Answers a message (`Stage.llm`).
    case answer

    /// The stage a job of this kind runs.
    public var stage: Stage {
        switch self {
        case .ocr, .ocrPage, .assemble: .ocr
        case .answer: .llm
        }
    }

    /// The queue its jobs wait in: the reading kinds share `ocr` (and its
    /// engines, and the fair turns between people), answers have their own.
    public var queue: String {
        switch self {
        case .ocr, .ocrPage, .assemble: "ocr"
        case .answer: "answer"
        }
    }
}
