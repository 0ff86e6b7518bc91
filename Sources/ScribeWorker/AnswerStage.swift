import Foundation
import PostgresNIO
import ScribeChat
import ScribeLLM
import ScribeQueue
import ScribeFlows
import ScribePostgres
import ScribeStore

/// The `answer` stage: asks the LLM about the file's checkpointed text with
/// the conversation's history, then in one transaction guarded by the job's
/// lease writes the assistant message and marks the file done, so each file
/// gets exactly one answer however often the stage is retried or rescued.
struct AnswerStage: JobHandler {
    let kind = StageJobKind.answer.rawValue
    let messages: MessageStore
    let uploads: UploadStore
    let queue: JobQueue
    let responder: ChatResponder
    /// Drop the upload's bytes in the final transaction (retention zero).
    let dropPayloadOnSuccess: Bool

    func run(_ job: ClaimedJob) async throws -> JobCompletion {
        let args = try job.decodeArgs(UploadJobArgs.self)
        try await uploads.startStage(.llm, messageID: args.messageID)
        guard let question = try await messages.message(id: args.messageID) else {
            throw JobError.permanent("the job's message is gone", userMessage: "The message was deleted.")
        }
        guard question.documentText != nil else {
            throw JobError.permanent("the file's text was never checkpointed", userMessage: "The file's text is missing; please upload it again.")
        }
        let answer = try await answer(question)
        try await record(
            job.lease,
            question: question,
            uploadID: args.uploadID,
            answer: answer.completion.content,
            metadata: responder.metadata(for: answer.completion),
            sources: answer.sources
        )
        return .recorded
    }

    /// In one transaction guarded by the lease: the job succeeded and the
    /// answer written. Throws `.leaseLost` (and writes nothing) when the
    /// lease no longer holds.
    func record(
        _ lease: JobLease, question: Message, uploadID: UUID, answer: String, metadata: MessageMetadata, sources: [MessageSource] = []
    ) async throws {
        try await queue.database.transaction { [uploads, queue, dropPayloadOnSuccess] connection in
            try await queue.complete(lease, on: connection)
            try await uploads.writeAnswer(
                to: question,
                uploadID: uploadID,
                answer: answer,
                metadata: metadata,
                sources: sources,
                dropPayload: dropPayloadOnSuccess,
                on: connection
            )
        }
    }

    /// Asks the LLM, mapping its failures to retryable or permanent job errors.
    func answer(_ message: Message) async throws -> ChatAnswer {
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

    func jobsChanged(_ transitions: [JobTransition], on connection: PostgresConnection) async throws {
        try await uploads.setUploadMessages(FileFlow.messageStatuses(transitions), on: connection)
    }
}
