import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PostgresNIO
import ScribeLLMTesting
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Synchronization
import Testing

/// One Server-Sent Event as a client parses it.
struct SentEvent: Sendable {
    var id: String?
    var event: String?
    var data: String

    var json: [String: any Sendable] {
        (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: any Sendable] ?? [:]
    }
}

/// What one open stream has received so far.
final class ReceivedEvents: Sendable {
    private struct State {
        var events: [SentEvent] = []
        var heartbeats = 0
        var ended = false
        var buffer = ""
    }

    private let state = Mutex(State())

    var events: [SentEvent] { state.withLock { $0.events } }
    var heartbeats: Int { state.withLock { $0.heartbeats } }
    var ended: Bool { state.withLock { $0.ended } }

    func end() { state.withLock { $0.ended = true } }

    /// Feeds raw stream text: complete blocks (ended by a blank line) become events or heartbeats.
    func feed(_ text: String) {
        state.withLock { state in
            state.buffer += text
            while let range = state.buffer.range(of: "\n\n") {
                let block = String(state.buffer[..<range.lowerBound])
                state.buffer.removeSubrange(..<range.upperBound)
                var event = SentEvent(id: nil, event: nil, data: "")
                var dataLines: [String] = []
                var comment = false
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix(":") { comment = true }
                    else if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
                    else if line.hasPrefix("event: ") { event.event = String(line.dropFirst(7)) }
                    else if line.hasPrefix("data: ") { dataLines.append(String(line.dropFirst(6))) }
                }
                event.data = dataLines.joined(separator: "\n")
                if event.event != nil { state.events.append(event) } else if comment { state.heartbeats += 1 }
            }
        }
    }
}

/// Live events against real `scribe api` processes (two of them, so a client
/// can reconnect to the other), a real `scribe worker` and the fake LLM.
@Suite(.serialized, .timeLimit(.minutes(5))) struct EventStreamTests {
    struct Rig: Sendable {
        let http: HTTPClient
        let llm: FakeChatCompletionsServer
        let apis: [String]
        let processes: [ChildProcess]
        let client: PostgresClient

        func send(_ method: HTTPMethod, _ base: String, _ path: String, token: String? = nil, json: [String: String]? = nil) async throws -> (Int, [String: any Sendable]) {
            let reply = try await ScribeTestSupport.send(method, base + path, token: token, json: json, timeout: .seconds(20), client: http)
            return (reply.status, reply.json)
        }

        /// A user with a conversation: (access token, conversation id).
        func account() async throws -> (String, String) {
            let (_, registered) = try await send(.POST, apis[0], "/v1/auth/register", json: ["email": "\(UUID())@example.com", "password": "correct horse battery"])
            let token = try #require(registered["access_token"] as? String)
            let (_, conversation) = try await send(.POST, apis[0], "/v1/conversations", token: token, json: ["title": "live"])
            return (token, try #require(conversation["id"] as? String))
        }

        func upload(_ base: String, token: String, conversation: String, files: [(String, String, [UInt8])]) async throws -> [String] {
            let boundary = "scribe-events-boundary"
            var body = ByteBuffer()
            body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"conversation_id\"\r\n\r\n\(conversation)\r\n")
            for (name, type, bytes) in files {
                body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: \(type)\r\n\r\n")
                body.writeBytes(bytes)
                body.writeString("\r\n")
            }
            body.writeString("--\(boundary)--\r\n")
            var request = HTTPClientRequest(url: base + "/v1/chat/file")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
            request.body = .bytes(body)
            let response = try await http.execute(request, timeout: .seconds(20))
            let reply = try await response.body.collect(upTo: 1 << 20)
            let json = try #require((try JSONSerialization.jsonObject(with: Data(buffer: reply))) as? [String: Any])
            return try #require(json["items"] as? [[String: Any]]).compactMap { $0["message_id"] as? String }
        }

        /// Opens `url` as an event stream while `body` runs; what arrived is in `received`.
        ///
        /// The stream has a client of its own, shut down when `body` is done:
        /// that closes the connection, so the reading task ends even if it
        /// misses its cancellation. (A request's deadline stops at the response
        /// head, and one CI run hung for 85 minutes on a stream nobody read.)
        func withStream<T: Sendable>(
            _ url: String,
            headers: [(String, String)] = [],
            _ body: @Sendable (ReceivedEvents, Int) async throws -> T
        ) async throws -> T {
            let streamClient = HTTPClient(eventLoopGroupProvider: .singleton)
            var request = HTTPClientRequest(url: url)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let response: HTTPClientResponse
            do {
                response = try await streamClient.execute(request, timeout: .seconds(30))
            } catch {
                try? await streamClient.shutdown()
                throw error
            }
            let received = ReceivedEvents()
            let status = Int(response.status.code)
            // Not a child task: a run once waited forever (past the test's time limit)
            // for a cancelled reader of an open stream, or for the client's shutdown
            // under it. Both are asked to end, and waited for at most 10 s; the
            // connection ends at the latest when the rig stops the server.
            let reader = Task {
                do {
                    for try await chunk in response.body { received.feed(String(buffer: chunk)) }
                } catch {}
                received.end()
            }
            let result: Result<T, any Error>
            do { result = .success(try await body(received, status)) } catch { result = .failure(error) }
            reader.cancel()
            let shutdown = Task { try? await streamClient.shutdown() }
            let deadline = ContinuousClock.now + .seconds(10)
            while !received.ended, ContinuousClock.now < deadline {
                // Not Task.sleep: it returns at once in a cancelled task (a test past its time limit).
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) { done.resume() }
                }
            }
            _ = shutdown
            return try result.get()
        }

        func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
            try await ScribeTestSupport.waitUntil(what, timeout: timeout, every: .milliseconds(50), condition)
        }
    }

    static func withRig(heartbeatMS: Int = 15_000, _ body: @Sendable (Rig) async throws -> Void) async throws {
        let (url, configuration) = try await TestDatabase.createMigratedURL()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await FakeChatCompletionsServer.withRunning(default: .delay(.milliseconds(300), then: .echo)) { llm in
                let ports = [freeLoopbackPort(), freeLoopbackPort()]
                try await withChildProcesses(grace: .seconds(5)) { processes in
                    for (index, port) in ports.enumerated() {
                        var environment = WorkerProcessTests.workerEnvironment(databaseURL: url, llm: llm.baseURL)
                        environment["JWT_SECRET"] = testSecret
                        environment["BCRYPT_COST"] = "4"
                        environment["PORT"] = "\(port)"
                        environment["HOST"] = "127.0.0.1"
                        environment["EVENTS_HEARTBEAT_MS"] = "\(heartbeatMS)"
                        try processes.scribe("api", environment: environment, label: "events-api-\(index)")
                    }
                    try processes.scribe("worker", environment: WorkerProcessTests.workerEnvironment(databaseURL: url, llm: llm.baseURL), label: "events-worker")
                    try await PostgresClient.withRunning(configuration, logger: TestDatabase.logger) { client in
                        let rig = Rig(http: http, llm: llm, apis: ports.map { "http://127.0.0.1:\($0)" }, processes: processes.all, client: client)
                        for api in rig.apis {
                            try await rig.waitUntil("\(api) answers", timeout: .seconds(30)) {
                                (try? await rig.send(.GET, api, "/health"))?.0 == 200
                            }
                        }
                        // Every process is up (a signal before that would kill it unhandled).
                        try await rig.waitUntil("the worker and the APIs listen", timeout: .seconds(30)) {
                            let rows = try await client.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'")
                            for try await count in rows.decode(Int.self) { return count >= 3 }
                            return false
                        }
                        try await body(rig)
                    }
                    for process in processes.all where process.isRunning {
                        let status = await process.stop(grace: .seconds(30))
                        #expect(status == 0, "\(process.logURL.lastPathComponent) did not stop cleanly:\n\(process.logTail())")
                    }
                }
            }
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    /// The user messages' final states and the assistant answers, as events show them.
    static func summary(_ events: [SentEvent]) -> (done: Set<String>, answers: Int) {
        var latest: [String: [String: any Sendable]] = [:]
        for event in events {
            if let id = event.json["id"] as? String { latest[id] = event.json }
        }
        let done = Set(latest.values.filter { $0["role"] as? String == "user" && $0["status"] as? String == "done" }.compactMap { $0["id"] as? String })
        return (done, latest.values.filter { $0["role"] as? String == "assistant" }.count)
    }

    @Test func everyChangeArrivesInOrderAndResumesOnAnotherProcessAfterACrash() async throws {
        try await Self.withRig { rig in
            let (token, conversation) = try await rig.account()
            let (_, issued) = try await rig.send(.POST, rig.apis[0], "/v1/conversations/\(conversation)/events/token", token: token)
            let streamToken = try #require(issued["token"] as? String)
            #expect(issued["expires_in"] as? Int == 60)
            let page = try Fixtures.bytes("mixed_lowres.png")
            let files = [("a.txt", "text/plain", Array("The first note.".utf8)), ("b.txt", "text/plain", Array("The second note.".utf8)), ("page.png", "image/png", page)]

            // The first half, on process 0, through a browser's kind of credential.
            let (firstHalf, resumeID, start): ([SentEvent], String, String) = try await rig.withStream(
                "\(rig.apis[0])/v1/conversations/\(conversation)/events?token=\(streamToken)"
            ) { received, status in
                #expect(status == 200)
                try await rig.waitUntil("the ready event") { received.events.first?.event == "ready" }
                let start = try #require(received.events.first?.id)
                let uploaded = try await rig.upload(rig.apis[0], token: token, conversation: conversation, files: files)
                #expect(uploaded.count == 3)
                try await rig.waitUntil("a few events") { received.events.count >= 6 }
                let seen = Array(received.events.dropFirst())
                return (seen, try #require(seen.last?.id), start)
            }
            // Process 0 dies; the client reconnects to process 1 where it left off.
            rig.processes[0].send(SIGKILL)
            _ = await rig.processes[0].waitForExit()
            let secondHalf = try await rig.withStream(
                "\(rig.apis[1])/v1/conversations/\(conversation)/events",
                headers: [("Authorization", "Bearer \(token)"), ("Last-Event-ID", resumeID)]
            ) { received, status in
                #expect(status == 200)
                try await rig.waitUntil("every file answered") {
                    let summary = Self.summary(firstHalf + received.events)
                    return summary.done.count == 3 && summary.answers == 3
                }
                return received.events
            }
            #expect(secondHalf.first?.event != "ready", "a resumed stream sends no ready event")

            // None lost, none repeated: the two halves are exactly the log after `start`.
            let whole = try await rig.withStream(
                "\(rig.apis[1])/v1/conversations/\(conversation)/events?last_event_id=\(start)",
                headers: [("Authorization", "Bearer \(token)")]
            ) { received, _ in
                try await rig.waitUntil("the whole log again") { received.events.count >= firstHalf.count + secondHalf.count }
                try await Task.sleep(for: .milliseconds(300))
                return received.events
            }
            let ids = (firstHalf + secondHalf).compactMap(\.id)
            #expect(ids == whole.compactMap(\.id))
            #expect(ids == ids.sorted() && Set(ids).count == ids.count, "ids only grow")
            #expect(ids.allSatisfy { $0.count == 39 && $0.allSatisfy(\.isNumber) })
            // Each event carries the message as GET /v1/messages/{id} shows it.
            let created = whole.filter { $0.event == "message.created" }
            #expect(created.count == 6, "3 files and 3 answers")
            #expect(whole.allSatisfy { $0.json["id"] is String && $0.json["status"] is String && $0.json["conversation_id"] as? String == conversation })
            let statuses = whole.filter { $0.json["role"] as? String == "user" }.compactMap { $0.json["status"] as? String }
            #expect(Set(statuses).isSubset(of: ["queued", "processing", "done"]))
            let stages = Set(whole.compactMap { $0.json["stage"] as? String })
            #expect(stages.isSuperset(of: ["queued", "ocr", "llm"]), "\(stages)")
        }
    }

    @Test func readingAScannedPDFShowsEachPageAsItIsRead() async throws {
        try await Self.withRig { rig in
            let (token, conversation) = try await rig.account()
            let pdf = try Fixtures.bytes("twopage_scan.pdf")
            let progress: [Int] = try await rig.withStream(
                "\(rig.apis[0])/v1/conversations/\(conversation)/events",
                headers: [("Authorization", "Bearer \(token)")]
            ) { received, _ in
                try await rig.waitUntil("the ready event") { received.events.first?.event == "ready" }
                let message = try #require(try await rig.upload(rig.apis[0], token: token, conversation: conversation, files: [("scan.pdf", "application/pdf", pdf)]).first)
                try await rig.waitUntil("the file answered") { Self.summary(received.events).done.contains(message) }
                let attachments = received.events.filter { $0.json["id"] as? String == message }
                    .compactMap { ($0.json["attachments"] as? [[String: any Sendable]])?.first }
                #expect(attachments.compactMap { $0["pages"] as? Int }.allSatisfy { $0 == 2 })
                return attachments.compactMap { $0["pages_read"] as? Int }
            }
            // Page 0 of 2, 1 of 2, then 2 of 2: never backwards.
            #expect(progress.first == 0, "\(progress)")
            #expect(progress.contains(1), "\(progress)")
            #expect(progress.last == 2, "\(progress)")
            #expect(progress == progress.sorted(), "\(progress)")
        }
    }

    @Test func aStreamedAnswerIsFinishedAndStoredWhenTheClientGoesAway() async throws {
        try await Self.withRig { rig in
            let (token, conversation) = try await rig.account()
            rig.llm.enqueue(.stream(chunks: ["One, ", "two, ", "three, ", "four."], interval: .milliseconds(400)))
            let received = ReceivedEvents()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var request = HTTPClientRequest(url: rig.apis[0] + "/v1/chat")
                    request.method = .POST
                    request.headers.add(name: "Authorization", value: "Bearer \(token)")
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.headers.add(name: "Accept", value: "text/event-stream")
                    request.body = .bytes(ByteBuffer(string: #"{"conversation_id": "\#(conversation)", "text": "Count to four."}"#))
                    let response = try await rig.http.execute(request, timeout: .seconds(30))
                    for try await chunk in response.body { received.feed(String(buffer: chunk)) }
                }
                try await rig.waitUntil("the first piece", timeout: .seconds(20)) { received.events.contains { $0.event == "delta" } }
                // The client goes away mid-answer.
                group.cancelAll()
                try? await group.waitForAll()
            }
            #expect(!received.events.contains { $0.event == "done" }, "the client left before the end")
            // The answer is still finished and stored, once.
            try await rig.waitUntil("the stored answer", timeout: .seconds(20)) {
                let (_, history) = try await rig.send(.GET, rig.apis[1], "/v1/conversations/\(conversation)/messages", token: token)
                let items = history["items"] as? [[String: any Sendable]] ?? []
                return items.last?["content"] as? String == "One, two, three, four."
            }
            let (_, history) = try await rig.send(.GET, rig.apis[1], "/v1/conversations/\(conversation)/messages", token: token)
            let items = try #require(history["items"] as? [[String: any Sendable]])
            #expect(items.map { $0["role"] as? String } == ["user", "assistant"])
            #expect(items.map { $0["status"] as? String } == ["done", "done"])
        }
    }

    @Test func onlyTheOwnerWithTheRightCredentialOpensAStream() async throws {
        try await Self.withRig { rig in
            let base = rig.apis[0]
            let (alice, aliceChat) = try await rig.account()
            let (mallory, malloryChat) = try await rig.account()
            func status(_ path: String, headers: [(String, String)] = []) async throws -> Int {
                try await rig.withStream(base + path, headers: headers) { _, status in status }
            }
            #expect(try await status("/v1/conversations/\(aliceChat)/events") == 401)
            #expect(try await status("/v1/conversations/\(aliceChat)/events?token=\(alice)") == 401, "never the access token in a URL")
            #expect(try await status("/v1/conversations/\(aliceChat)/events", headers: [("Authorization", "Bearer \(mallory)")]) == 404)
            let (notYours, _) = try await rig.send(.POST, base, "/v1/conversations/\(aliceChat)/events/token", token: mallory)
            #expect(notYours == 404)
            let (_, issued) = try await rig.send(.POST, base, "/v1/conversations/\(malloryChat)/events/token", token: mallory)
            let malloryToken = try #require(issued["token"] as? String)
            #expect(try await status("/v1/conversations/\(aliceChat)/events?token=\(malloryToken)") == 401, "a token opens its own conversation only")
            let (asAccess, _) = try await rig.send(.GET, base, "/v1/me", token: malloryToken)
            #expect(asAccess == 401, "a stream token is not an access token")
            #expect(try await status("/v1/conversations/\(aliceChat)/events", headers: [("Authorization", "Bearer \(alice)"), ("Last-Event-ID", "abc")]) == 400)
            #expect(try await status("/v1/conversations/\(aliceChat)/events", headers: [("Authorization", "Bearer \(alice)")]) == 200)
        }
    }

    @Test func idleStreamsGetHeartbeatsAndEndCleanlyOnShutdown() async throws {
        try await Self.withRig(heartbeatMS: 200) { rig in
            let (token, conversation) = try await rig.account()
            try await rig.withStream(
                "\(rig.apis[0])/v1/conversations/\(conversation)/events",
                headers: [("Authorization", "Bearer \(token)")]
            ) { received, _ in
                try await rig.waitUntil("two heartbeats", timeout: .seconds(10)) { received.heartbeats >= 2 }
                let asked = ContinuousClock.now
                rig.processes[0].send(SIGTERM)
                try await rig.waitUntil("the stream to end", timeout: .seconds(10)) { received.ended }
                #expect(await rig.processes[0].waitForExit(timeout: .seconds(10)) == 0, "\(rig.processes[0].logTail())")
                #expect(ContinuousClock.now - asked < .seconds(10))
            }
        }
    }
}
