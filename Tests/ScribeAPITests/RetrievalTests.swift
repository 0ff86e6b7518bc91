import Foundation
import HTTPTypes
import Logging
import ScribeLLM
import ScribeLLMTesting
import ScribeTestSupport
import Testing

/// Answers in a conversation with documents: the passages the question needs
/// go into the prompt, labelled with file and page, however many turns ago
/// the document came; the answer shows them as its sources; a source opens
/// its page.
@Suite struct RetrievalTests {
    /// A client for `server`.
    static func client(for server: FakeChatCompletionsServer) -> ChatCompletionsClient {
        ChatCompletionsClient(
            configuration: .init(baseURL: server.baseURL, model: "fake", attemptTimeout: .seconds(10), totalTimeout: .seconds(30), maxAttempts: 1),
            httpClient: .shared,
            logger: Logger(label: "test.llm", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// A long contract as one plain-text file (one page, many passages): the
    /// words of every clause everywhere, the termination clause once, deep inside.
    static let contract: String = (1...60).map { clause in
        let own = clause == 47
            ? "Either party may terminate this agreement by giving ninety days written notice of termination."
            : "Clause \(clause) sets out schedule item \(clause) of the annex in general terms."
        return "\(clause). The party and the other party to this contract agree that the contract binds each party. \(own) "
            + "Each party shall perform its obligations under this contract in good faith and with reasonable care."
    }.joined(separator: "\n")

    static func uploadContract(_ api: APIClient, token: String, conversation: String) async throws -> String {
        let upload = try await api.upload(
            token: token,
            conversationID: conversation,
            files: [.init(filename: "contract.txt", contentType: "text/plain", bytes: Array(contract.utf8))]
        )
        #expect(upload.status == .accepted)
        return try #require(upload["message_id"] as? String)
    }

    @Test func theAnsweringPassageIsInThePromptAfterTwentyTurnsAndShownAsTheSource() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .reply("Ninety days.")) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                let document = try await Self.uploadContract(api, token: token, conversation: conversation)
                for turn in 1...20 {
                    let reply = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "Unrelated question \(turn) about lunch."])
                    #expect(reply.status == .ok)
                }
                let reply = try await api.send(
                    .post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "What is the notice period for termination?"]
                )
                #expect(reply.status == .ok)
                let prompt = try #require(server.requests.last?.lastUserMessage)
                #expect(prompt.hasPrefix("What is the notice period for termination?"))
                #expect(prompt.contains("[Document: contract.txt, page 1]"))
                #expect(prompt.contains("ninety days written notice of termination"))
                // Only a share of the prompt: not the whole contract.
                #expect(prompt.utf8.count < Self.contract.utf8.count / 2)

                let assistant = try #require(reply["assistant_message"] as? [String: Any])
                let sources = try #require(assistant["sources"] as? [[String: Any]])
                let first = try #require(sources.first)
                #expect(first["message_id"] as? String == document)
                #expect(first["filename"] as? String == "contract.txt")
                #expect(first["page"] as? Int == 1)
                #expect((first["snippet"] as? String)?.isEmpty == false)
                #expect(Set(first.keys) == ["message_id", "filename", "page", "snippet"])

                // The same sources in the stored message and the history; a source opens its page.
                let id = try #require(assistant["id"] as? String)
                let stored = try await api.send(.get, "/v1/messages/\(id)", token: token)
                #expect((stored["sources"] as? [[String: Any]])?.first?["filename"] as? String == "contract.txt")
                let history = try await api.send(.get, "/v1/conversations/\(conversation)/messages?limit=100", token: token)
                #expect(history.items.allSatisfy { $0["sources"] is [Any] })
                let page = try await api.send(.get, "/v1/messages/\(document)/pages/1", token: token)
                #expect(page.status == .ok)
                #expect((page["text"] as? String)?.contains("ninety days written notice") == true)
                #expect(page["filename"] as? String == "contract.txt")
            }
        }
    }

    @Test func manyDocumentsTooBigToGoWholeAreSearchedTogether() async throws {
        // Three documents, none whole: the budget check once overflowed adding up their sizes and crashed the worker.
        try await FakeChatCompletionsServer.withRunning(default: .reply("Ninety days.")) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                for name in ["a.txt", "b.txt", "c.txt"] {
                    let upload = try await api.upload(
                        token: token, conversationID: conversation,
                        files: [.init(filename: name, contentType: "text/plain", bytes: Array(Self.contract.utf8))]
                    )
                    #expect(upload.status == .accepted)
                }
                let reply = try await api.send(
                    .post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "What notice does termination need?"]
                )
                #expect(reply.status == .ok)
                #expect(server.requests.last?.lastUserMessage?.contains("ninety days written notice of termination") == true)
                let sources = (reply["assistant_message"] as? [String: Any])?["sources"] as? [[String: Any]]
                #expect(Set(sources?.compactMap { $0["filename"] as? String } ?? []) == ["a.txt", "b.txt", "c.txt"])
            }
        }
    }

    @Test func aQuestionThatMatchesNothingGetsNoPassagesAndNoSources() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .reply("I don't know.")) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                _ = try await Self.uploadContract(api, token: token, conversation: conversation)
                let reply = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "How warm is Lisbon in May?"])
                #expect(reply.status == .ok)
                #expect(server.requests.last?.lastUserMessage == "How warm is Lisbon in May?")
                #expect(((reply["assistant_message"] as? [String: Any])?["sources"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test func aShortDocumentGoesInWholeWithItsBestPageAsTheSource() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .reply("Noon.")) { server in
            try await withAPI(provider: Self.client(for: server)) { api in
                let (token, _) = try await api.registerUser()
                let conversation = try await api.createConversation(token)
                let note = "The meeting with the auditors is at noon on Friday.\nBring the receipts."
                _ = try await api.upload(
                    token: token, conversationID: conversation,
                    files: [.init(filename: "note.txt", contentType: "text/plain", bytes: Array(note.utf8))]
                )
                let reply = try await api.send(
                    .post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "When is the meeting with the auditors?"],
                    headers: [.accept: "text/event-stream"]
                )
                #expect(reply.status == .ok)
                #expect(server.requests.last?.lastUserMessage == "When is the meeting with the auditors?\n\n[Document: note.txt]\n\(note)")
                // The streamed `done` carries the answer with its sources.
                let done = try #require(ChatTests.events(reply.text).last)
                #expect(done.event == "done")
                let sources = (done.data["assistant_message"] as? [String: Any])?["sources"] as? [[String: Any]]
                #expect(sources?.map { $0["filename"] as? String } == ["note.txt"])
            }
        }
    }

    @Test func pagesAreOnlyTheOwnersAndBadPagesAreClearErrors() async throws {
        try await withAPI { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let document = try await Self.uploadContract(api, token: token, conversation: conversation)
            let (stranger, _) = try await api.registerUser(prefix: "stranger")
            #expect(try await api.send(.get, "/v1/messages/\(document)/pages/1", token: stranger).status == .notFound)
            #expect(try await api.send(.get, "/v1/messages/\(document)/pages/2", token: token).status == .notFound)
            for bad in ["zero", "0", "-1", "99999999999999999999"] {
                #expect(try await api.send(.get, "/v1/messages/\(document)/pages/\(bad)", token: token).status == .notFound)
            }
            #expect(try await api.send(.get, "/v1/messages/\(document)/pages/1").status == .unauthorized)
        }
    }
}
