import Foundation
import Hummingbird
import ServiceLifecycle
import Logging
import Synchronization

/// An OpenAI-compatible Chat Completions server on loopback HTTP, for tests.
///
/// It also answers `POST …/embeddings` with ``FakeEmbedding``s (failures
/// scripted by ``enqueueEmbeddings(_:)``), as an embeddings service beside it.
///
/// It answers `POST …/chat/completions` from a queue of scripted ``Behaviour``s, falling back to
/// a default behaviour (``Behaviour/echo`` unless told otherwise) when the queue is empty, and
/// records every request it receives (unless told not to, for long runs whose memory must stay
/// flat). It listens on a real socket (an ephemeral port by default), so clients in other
/// processes can use it too: `GET /stats` answers its counts as JSON.
///
/// ```swift
/// try await FakeChatCompletionsServer.withRunning(.status(500, body: "{}"), .reply("hi")) { server in
///     // point a client at server.baseURL …
///     #expect(server.requestCount == 2)
/// }
/// ```
public final class FakeChatCompletionsServer: Sendable {
    /// Errors from starting the fake.
    public struct StartError: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    private struct State {
        var queue: [Behaviour]
        var defaultBehaviour: Behaviour
        var requests: [RecordedRequest] = []
        var received = 0
        var port: Int?
        var inFlight = 0
        var mostInFlight = 0
        var embeddingFailures: [Behaviour] = []
        var embeddingRequests = 0
        var embeddedTexts = 0
    }

    /// The interface the server binds to, e.g. `127.0.0.1`.
    public let host: String
    private let requestedPort: Int
    private let recordsRequests: Bool
    private let logger: Logger
    private let state: Mutex<State>

    /// Creates a fake (not yet listening; see ``run(onReady:)`` and ``withRunning(_:default:host:port:isolation:_:)``).
    /// - Parameters:
    ///   - behaviours: Behaviours for the first requests, in order.
    ///   - defaultBehaviour: How to answer once the queue is empty.
    ///   - host: The interface to bind (loopback by default).
    ///   - port: The port to bind; 0 picks a free one.
    ///   - recordsRequests: Whether to keep every request for ``requests``; a long run
    ///     (a benchmark's hundreds of thousands of requests) passes `false` and only counts them.
    ///   - logger: The server's logger; silent by default.
    public init(
        _ behaviours: [Behaviour] = [],
        default defaultBehaviour: Behaviour = .echo,
        host: String = "127.0.0.1",
        port: Int = 0,
        recordsRequests: Bool = true,
        logger: Logger = Logger(label: "FakeChatCompletionsServer", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.host = host
        self.requestedPort = port
        self.recordsRequests = recordsRequests
        self.logger = logger
        self.state = Mutex(State(queue: behaviours, defaultBehaviour: defaultBehaviour))
    }

    // MARK: - Running

    /// Runs a fake for the duration of `body` and stops it afterwards, even if `body` throws.
    /// - Parameters:
    ///   - behaviours: Behaviours for the first requests, in order.
    ///   - defaultBehaviour: How to answer once the queue is empty.
    ///   - host: The interface to bind.
    ///   - port: The port to bind; 0 picks a free one.
    ///   - body: Receives the running server (``baseURL`` is ready to use).
    /// - Returns: What `body` returns.
    public static func withRunning<T>(
        _ behaviours: Behaviour...,
        default defaultBehaviour: Behaviour = .echo,
        host: String = "127.0.0.1",
        port: Int = 0,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (FakeChatCompletionsServer) async throws -> T
    ) async throws -> T {
        let server = FakeChatCompletionsServer(behaviours, default: defaultBehaviour, host: host, port: port)
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Int.self)
        // Stopped by a graceful shutdown, not by cancellation: cancelling the
        // server while a client's connection is being accepted trips an
        // assertion in NIO's async channel (seen under load in debug builds).
        let services = ServiceGroup(
            configuration: .init(
                services: [server.makeApplication { _ in readyContinuation.yield(0) }],
                logger: server.logger
            )
        )
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask {
                defer { readyContinuation.finish() }
                try await services.run()
            }
            var readiness = ready.makeAsyncIterator()
            guard await readiness.next() != nil else {
                // The server stopped before it was listening: surface its error.
                try await group.next()
                throw StartError(description: "The fake chat completions server stopped before it started listening.")
            }
            do {
                let result = try await body(server)
                await services.triggerGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                await services.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// Listens until the calling task is cancelled.
    /// - Parameter onReady: Called once the socket is bound, with ``baseURL``.
    public func run(onReady: @escaping @Sendable (String) async -> Void = { _ in }) async throws {
        try await makeApplication(onReady: onReady).run()
    }

    /// The fake as a service, to run in a `ServiceGroup` that stops it with a graceful
    /// shutdown (e.g. on SIGTERM) rather than by cancellation (see ``withRunning(_:default:host:port:isolation:_:)``).
    /// - Parameter onReady: Called once the socket is bound, with ``baseURL``.
    public func service(onReady: @escaping @Sendable (String) async -> Void = { _ in }) -> some Service {
        makeApplication(onReady: onReady)
    }

    /// The fake's Hummingbird application; it records the bound port while it runs.
    func makeApplication(onReady: @escaping @Sendable (String) async -> Void) -> some ApplicationProtocol {
        Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in
                try await self.respond(to: request)
            },
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: requestedPort),
                serverName: "FakeChatCompletionsServer"
            ),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                self.state.withLock { $0.port = port }
                await onReady(self.baseURL)
            },
            logger: logger
        )
    }

    // MARK: - Inspecting and scripting

    /// The API root including `/v1`, e.g. `http://127.0.0.1:53121/v1`.
    ///
    /// Only meaningful while the server is running.
    public var baseURL: String {
        "http://\(host):\(port ?? 0)/v1"
    }

    /// The bound port while running, `nil` otherwise.
    public var port: Int? {
        state.withLock { $0.port }
    }

    /// Every request received so far, oldest first (none when it does not record them).
    public var requests: [RecordedRequest] {
        state.withLock { $0.requests }
    }

    /// How many requests have been received (counted whether or not they are recorded).
    public var requestCount: Int {
        state.withLock { $0.received }
    }

    /// The most requests that were being answered at the same time.
    public var mostRequestsInFlight: Int {
        state.withLock { $0.mostInFlight }
    }

    /// Appends behaviours for the next requests.
    public func enqueue(_ behaviours: Behaviour...) {
        state.withLock { $0.queue.append(contentsOf: behaviours) }
    }

    /// Changes how requests are answered once the queue is empty.
    public func setDefaultBehaviour(_ behaviour: Behaviour) {
        state.withLock { $0.defaultBehaviour = behaviour }
    }

    /// Forgets recorded requests and queued behaviours (the default behaviour stays).
    public func reset() {
        state.withLock {
            $0.requests.removeAll()
            $0.received = 0
            $0.queue.removeAll()
        }
    }

    // MARK: - Answering

    private func respond(to request: Request) async throws -> Response {
        var request = request
        let path = request.uri.path
        if request.method == .get, path == "/stats" {
            let stats = state.withLock { ["requests": $0.received, "in_flight": $0.inFlight, "max_in_flight": $0.mostInFlight] }
            return Self.json(200, JSON.string(stats))
        }
        if request.method == .post, path.hasSuffix("/embeddings") {
            return try await embeddings(for: request)
        }
        guard request.method == .post, path.hasSuffix("/chat/completions") else {
            return Self.json(404, JSON.string(["error": ["message": "No route for \(request.method) \(path)", "type": "not_found"]]))
        }
        let body = try await request.collectBody(upTo: 16 * 1024 * 1024)
        let recorded = RecordedRequest(
            method: request.method.rawValue,
            path: path,
            authorization: request.headers[.authorization],
            contentType: request.headers[.contentType],
            body: Array(body.readableBytesView)
        )
        let (behaviour, number) = state.withLock { state in
            if recordsRequests { state.requests.append(recorded) }
            state.received += 1
            state.inFlight += 1
            state.mostInFlight = max(state.mostInFlight, state.inFlight)
            let behaviour = state.queue.isEmpty ? state.defaultBehaviour : state.queue.removeFirst()
            return (behaviour, state.received)
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        return try await answer(recorded, with: behaviour, number: number)
    }

    // MARK: - Embeddings

    /// Answers the next embeddings requests with `behaviours` (a `.status`,
    /// a `.delay(…, then: …)` or `.malformedJSON`), then with embeddings again.
    public func enqueueEmbeddings(_ behaviours: Behaviour...) {
        state.withLock { $0.embeddingFailures.append(contentsOf: behaviours) }
    }

    /// How many embeddings requests were received, and how many texts they carried.
    public var embeddingCounts: (requests: Int, texts: Int) {
        state.withLock { ($0.embeddingRequests, $0.embeddedTexts) }
    }

    /// `POST …/embeddings`: one ``FakeEmbedding`` per input, OpenAI's shape.
    private func embeddings(for request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024 * 1024)
        let parsed = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]
        let inputs: [String]? = (parsed?["input"] as? [String]) ?? (parsed?["input"] as? String).map { [$0] }
        guard let inputs, !inputs.isEmpty else {
            return Self.json(400, JSON.string(["error": ["message": "'input' must be a string or a non-empty list of strings", "type": "invalid_request_error"]]))
        }
        let recorded = RecordedRequest(
            method: request.method.rawValue,
            path: request.uri.path,
            authorization: request.headers[.authorization],
            contentType: request.headers[.contentType],
            body: Array(body.readableBytesView)
        )
        var behaviour = state.withLock { state -> Behaviour? in
            if recordsRequests { state.requests.append(recorded) }
            state.embeddingRequests += 1
            state.embeddedTexts += inputs.count
            return state.embeddingFailures.isEmpty ? nil : state.embeddingFailures.removeFirst()
        }
        while case .delay(let duration, let next)? = behaviour {
            try await Task.sleep(for: duration)
            if case .echo = next { behaviour = nil } else { behaviour = next }
        }
        switch behaviour {
        case .status(let status, let body, let retryAfter)?:
            var response = Self.json(status, body)
            if let retryAfter { response.headers[.retryAfter] = retryAfter }
            return response
        case .malformedJSON?:
            return Self.json(200, #"{"data": [{"embedding": [0.1, "#)
        default:
            let data = inputs.enumerated().map { index, text in
                ["object": "embedding", "index": index, "embedding": FakeEmbedding.vector(for: text).map(Double.init)] as [String: Any]
            }
            let tokens = inputs.reduce(0) { $0 + ($1.utf8.count + 3) / 4 }
            let model = parsed?["model"] as? String ?? "fake-embedding"
            return Self.json(200, JSON.string(["object": "list", "data": data, "model": model, "usage": ["prompt_tokens": tokens, "total_tokens": tokens]]))
        }
    }

    private func answer(_ request: RecordedRequest, with behaviour: Behaviour, number: Int) async throws -> Response {
        switch behaviour {
        case .echo:
            let text = Self.echoText(for: request)
            if request.stream == true {
                return streamed(Self.words(of: text), for: request, number: number)
            }
            return completion(text, for: request, number: number)
        case .reply(let text):
            return completion(text, for: request, number: number)
        case .delay(let duration, let next):
            try await Task.sleep(for: duration)
            return try await answer(request, with: next, number: number)
        case .pace(let duration, .echo) where request.stream == true:
            let words = Self.words(of: Self.echoText(for: request))
            return streamed(words, for: request, number: number, before: duration / max(words.count, 1))
        case .pace(let duration, .stream(let chunks, _)):
            return streamed(chunks, for: request, number: number, before: duration / max(chunks.count, 1))
        case .pace(let duration, let next):
            return try await answer(request, with: .delay(duration, then: next), number: number)
        case .status(let status, let body, let retryAfter):
            var response = Self.json(status, body)
            if let retryAfter {
                response.headers[.retryAfter] = retryAfter
            }
            return response
        case .malformedJSON:
            return Self.json(200, #"{"id": "chatcmpl-broken", "choices": [{"message": {"content": "unfinished"#)
        case .stream(let chunks, let interval):
            return streamed(chunks, for: request, number: number, after: interval)
        case .disconnect:
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(contentLength: 4096) { _ in
                    throw DisconnectRequested()
                }
            )
        }
    }

    private struct DisconnectRequested: Error {}

    /// `"echo: <last user message>"`.
    private static func echoText(for request: RecordedRequest) -> String {
        "echo: " + (request.lastUserMessage ?? "")
    }

    /// `text` cut into words, each but the first with the space before it.
    private static func words(of text: String) -> [String] {
        text.split(separator: " ", omittingEmptySubsequences: false)
            .enumerated().map { $0.offset == 0 ? String($0.element) : " " + $0.element }
    }

    /// A server-sent-event stream: one `chat.completion.chunk` per string, each written
    /// `before` after the last (the first too) and followed by a pause of `after`, then a
    /// closing chunk and `data: [DONE]`.
    private func streamed(
        _ chunks: [String],
        for request: RecordedRequest,
        number: Int,
        before: Duration = .zero,
        after: Duration = .zero
    ) -> Response {
        let model = request.model ?? "fake-model"
        let events = chunks.map { chunk in
            Self.event(["id": "chatcmpl-fake-\(number)", "object": "chat.completion.chunk", "model": model,
                "choices": [["index": 0, "delta": ["content": chunk], "finish_reason": NSNull()]]])
        }
        let closing = [
            Self.event(["id": "chatcmpl-fake-\(number)", "object": "chat.completion.chunk", "model": model,
                "choices": [["index": 0, "delta": [String: Any](), "finish_reason": "stop"]]]),
            "data: [DONE]\n\n",
        ]
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { [events, closing] writer in
                for event in events {
                    if before > .zero { try await Task.sleep(for: before) }
                    try await writer.write(ByteBuffer(string: event))
                    if after > .zero { try await Task.sleep(for: after) }
                }
                for event in closing {
                    try await writer.write(ByteBuffer(string: event))
                    if after > .zero { try await Task.sleep(for: after) }
                }
                try await writer.finish(nil)
            }
        )
    }

    private func completion(_ content: String, for request: RecordedRequest, number: Int) -> Response {
        let promptTokens = request.messages.reduce(0) { $0 + ($1.content.utf8.count + 3) / 4 }
        let completionTokens = (content.utf8.count + 3) / 4
        let body: [String: Any] = [
            "id": "chatcmpl-fake-\(number)",
            "object": "chat.completion",
            "created": Int(Date().timeIntervalSince1970),
            "model": request.model ?? "fake-model",
            "choices": [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": "stop"]],
            "usage": ["prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens],
        ]
        return Self.json(200, JSON.string(body))
    }

    private static func json(_ status: Int, _ body: String) -> Response {
        Response(
            status: HTTPResponse.Status(code: status),
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body))
        )
    }

    private static func event(_ object: [String: Any]) -> String {
        "data: " + JSON.string(object) + "\n\n"
    }
}
