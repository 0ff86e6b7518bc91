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

/// The kinds of the queue jobs that run a message's stages; each is also the
/// name of the queue its jobs wait in.
public enum StageJobKind: String, Sendable, Hashable, CaseIterable {
    /// Reads a file (`Stage.ocr`).
    case ocr
    /// Answers a message (`Stage.llm`).
    case answer

    /// The stage a job of this kind runs.
    public var stage: Stage {
        switch self {
        case .ocr: .ocr
        case .answer: .llm
        }
    }
}
