import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ScribeLLMTesting
import ScribeTestSupport
import Testing

/// A full run of real processes at `LOG_LEVEL=trace` (an API, a worker, the
/// `scribe keys` command), every kind of secret in play, and then a grep of
/// every log line: no password, access token, stream token, service key,
/// LLM key, JWT secret or database password may appear in any of them. The
/// request id, though, must reach the worker's log lines of its job.
@Suite(.serialized, .timeLimit(.minutes(5))) struct SecretHygieneTests {
    @Test func noSecretReachesAnyLogLine() async throws {
        let (plainURL, _) = try await TestDatabase.createMigratedURL()
        // Trust authentication never asks for it, so only a log could show it.
        let databasePassword = "dbpass\(UUID().uuidString.prefix(12))"
        let databaseURL = plainURL.replacingOccurrences(of: "://postgres@", with: "://postgres:\(databasePassword)@")
        #expect(databaseURL.contains(databasePassword))
        let llmKey = "sk-llm-\(UUID().uuidString)"
        let embeddingsKey = "sk-emb-\(UUID().uuidString)"
        let jwtSecret = "jwt-\(UUID().uuidString)-\(UUID().uuidString)"
        let password = "Pw-\(UUID().uuidString.prefix(12))"
        let wrongPassword = "Wrong-\(UUID().uuidString.prefix(12))"
        let requestID = "hygiene-\(UUID().uuidString.prefix(8))"

        try await FakeChatCompletionsServer.withRunning { llm in
            let port = freeLoopbackPort()
            let base = "http://127.0.0.1:\(port)"
            var environment = WorkerProcessTests.workerEnvironment(
                databaseURL: databaseURL,
                llm: llm.baseURL,
                extra: [
                    "LOG_LEVEL": "trace", "LLM_API_KEY": llmKey, "JWT_SECRET": jwtSecret, "BCRYPT_COST": "4", "PORT": "\(port)",
                    "EMBEDDINGS_BASE_URL": llm.baseURL, "EMBEDDINGS_MODEL": "fake-embedding", "EMBEDDINGS_API_KEY": embeddingsKey,
                ]
            )
            environment["HOST"] = "127.0.0.1"
            try await withChildProcesses(grace: .seconds(5)) { processes in
                let api = try processes.scribe("api", environment: environment, label: "hygiene-api")
                let worker = try processes.scribe("worker", environment: environment, label: "hygiene-worker")
                var logs = [api.logURL, worker.logURL]
                var keyOutput: [String] = []
                try await waitUntil("the API answers") { (try? await send(.GET, base + "/health"))?.status == 200 }

                let email = "hygiene\(UUID().uuidString.prefix(8))@example.com"
                let registered = try await send(.POST, base + "/v1/auth/register", json: ["email": email, "password": password])
                #expect(registered.status == 201)
                let login = try await send(.POST, base + "/v1/auth/login", json: ["login": email, "password": password])
                let token = try #require(login.json["access_token"] as? String)
                _ = try await send(.POST, base + "/v1/auth/login", json: ["login": email, "password": wrongPassword])
                _ = try await send(.POST, base + "/v1/auth/login", json: ["login": wrongPassword, "password": wrongPassword])

                let chat = try await send(.POST, base + "/v1/chat", token: token, json: ["text": "Hello there"])
                #expect(chat.status == 200)
                let conversation = try #require(chat.json["conversation_id"] as? String)
                let streamToken = try #require(
                    try await send(.POST, base + "/v1/conversations/\(conversation)/events/token", token: token).json["token"] as? String
                )
                // Open the stream with the token in the URL, read its first event, leave.
                var streamRequest = HTTPClientRequest(url: base + "/v1/conversations/\(conversation)/events?token=\(streamToken)")
                streamRequest.method = .GET
                let stream = try await HTTPClient.shared.execute(streamRequest, timeout: .seconds(20))
                #expect(stream.status == .ok)
                for try await _ in stream.body { break }

                let upload = try await Self.uploadText(base, token: token, conversation: conversation, requestID: requestID)
                try await waitUntil("the upload is answered") {
                    let message = try await send(.GET, base + "/v1/messages/\(upload)", token: token)
                    return message.json["status"] as? String == "done"
                }

                let created = try await Self.keys(["create", "--name", "hygiene-bot"], environment: environment)
                keyOutput = created.output.split(separator: "\n").map(String.init)
                logs.append(created.log)
                let key = try #require(keyOutput.last)
                let sent = try await send(.POST, base + "/v1/chat/send", headers: [("X-API-KEY", key)], json: ["telegram_id": 99, "message": "hi"])
                #expect(sent.status == 200)
                let keyID = try #require(created.output.split(separator: "\n").compactMap { line in
                    line.split(separator: " ").first { UUID(uuidString: String($0)) != nil }.map(String.init)
                }.first)
                let revoked = try await Self.keys(["revoke", keyID], environment: environment)
                logs.append(revoked.log)
                let refused = try await send(.POST, base + "/v1/chat/send", headers: [("X-API-KEY", key)], json: ["telegram_id": 99, "message": "hi"])
                #expect(refused.status == 401)
                #expect(llm.requests.contains { $0.authorization == "Bearer \(llmKey)" }, "the LLM key was in use")

                // The worker's embedding stage has called the embeddings service with its key.
                try await waitUntil("the note's passages are embedded") { llm.embeddingCounts.requests > 0 }
                #expect(llm.requests.contains { $0.authorization == "Bearer \(embeddingsKey)" })
                #expect(await api.stop() == 0)
                #expect(await worker.stop() == 0)

                let text = try logs.map { try String(contentsOf: $0, encoding: .utf8) }.joined(separator: "\n")
                #expect(text.split(separator: "\n").count > 50, "trace logging was on")
                let secrets = [
                    "password": password, "wrong password": wrongPassword, "access token": token, "stream token": streamToken,
                    "service key": key, "service key's secret part": String(key.dropFirst(14)), "LLM key": llmKey, "embeddings key": embeddingsKey,
                    "JWT secret": jwtSecret, "database password": databasePassword,
                ]
                for (name, secret) in secrets {
                    let lines = text.split(separator: "\n").filter { $0.contains(secret) }
                    #expect(lines.isEmpty, "the \(name) is in the logs:\n\(lines.prefix(3).joined(separator: "\n"))")
                }
                let workerLog = try String(contentsOf: worker.logURL, encoding: .utf8)
                #expect(workerLog.contains(requestID), "the upload's request id is in its job's log lines")
                let apiLog = try String(contentsOf: api.logURL, encoding: .utf8)
                #expect(apiLog.split(separator: "\n").contains { $0.contains(requestID) && $0.contains("/v1/chat/file") })
            }
        }
    }

    /// Uploads one text file with `requestID`; returns its message id.
    static func uploadText(_ base: String, token: String, conversation: String, requestID: String) async throws -> String {
        let boundary = "hygiene-boundary"
        var body = ByteBuffer()
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"conversation_id\"\r\n\r\n\(conversation)\r\n")
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note.txt\"\r\nContent-Type: text/plain\r\n\r\n")
        body.writeString("The meeting is at noon.\r\n--\(boundary)--\r\n")
        var request = HTTPClientRequest(url: base + "/v1/chat/file")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        request.headers.add(name: "X-Request-ID", value: requestID)
        request.body = .bytes(body)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let reply = try await response.body.collect(upTo: 1 << 20)
        let json = try #require((try JSONSerialization.jsonObject(with: Data(buffer: reply))) as? [String: Any])
        return try #require(json["message_id"] as? String)
    }

    /// Runs `scribe keys …` to the end: its standard output, and its standard error in a log file.
    static func keys(_ arguments: [String], environment: [String: String]) async throws -> (output: String, log: URL) {
        let run = try await ChildProcess.run(
            ChildProcess.scribeBinary, ["keys"] + arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new }, label: "keys"
        )
        #expect(run.status == 0, "scribe keys \(arguments.joined(separator: " ")) failed")
        return (run.output, run.errorLog)
    }
}
