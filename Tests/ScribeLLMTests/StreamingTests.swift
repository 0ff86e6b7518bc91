import Foundation
import ScribeLLM
import ScribeLLMTesting
import Synchronization
import Testing

/// Answers streamed from an OpenAI-compatible server, piece by piece.
@Suite("Streaming answers")
struct StreamingTests {
    /// The pieces `stream` told, in order, and the completion it returned.
    func streamed(_ client: ChatCompletionsClient) async throws -> ([String], ChatCompletion) {
        let pieces = Mutex([String]())
        let completion = try await client.stream([.user("Stream it")]) { piece in pieces.withLock { $0.append(piece) } }
        return (pieces.withLock { $0 }, completion)
    }

    @Test func piecesArriveAsTheServerSendsThemAndJoinIntoTheAnswer() async throws {
        try await FakeChatCompletionsServer.withRunning(.stream(chunks: ["Приве", "т, ", "world", "!"], interval: .milliseconds(50))) { server in
            let (pieces, completion) = try await withClient(testConfiguration(server)) { try await streamed($0) }
            #expect(pieces == ["Приве", "т, ", "world", "!"])
            #expect(completion.content == "Привет, world!")
            let request = try #require(server.requests.first)
            #expect(request.stream == true)
            #expect(request.fieldNames.contains("stream_options"))
        }
    }

    @Test func aServerThatIgnoresStreamAnswersInOnePiece() async throws {
        try await FakeChatCompletionsServer.withRunning(.reply("All at once.")) { server in
            // .reply answers plain JSON even when asked to stream.
            let (pieces, completion) = try await withClient(testConfiguration(server)) { try await streamed($0) }
            #expect(pieces == ["All at once."])
            #expect(completion.content == "All at once.")
        }
    }

    @Test func aFailureBeforeTheFirstPieceIsRetriedAfterItIsNot() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .stream(chunks: ["fine"])) { server in
            server.enqueue(.error(503, message: "busy"))
            let (pieces, _) = try await withClient(testConfiguration(server, maxAttempts: 3)) { try await streamed($0) }
            #expect(pieces == ["fine"], "the 503 came before any piece: retried")
            #expect(server.requestCount == 2)
        }
        // A stream cut after its first piece: telling the beginning again would repeat it. The
        // attempt's 2.5 s leave room for the first piece on a loaded machine (at 500 ms a full
        // suite on two cores once timed out before it, and the retry was right).
        try await FakeChatCompletionsServer.withRunning(default: .stream(chunks: ["one ", "two"], interval: .seconds(8))) { server in
            let configuration = testConfiguration(server, attemptTimeout: .milliseconds(2500), totalTimeout: .seconds(20), maxAttempts: 4)
            let error = try await withClient(configuration) { client -> LLMError? in
                do {
                    _ = try await streamed(client)
                    return nil
                } catch let error as LLMError {
                    return error
                }
            }
            #expect(error?.kind == .timeout)
            #expect(server.requestCount == 1, "not retried once a piece was told")
        }
    }
}
