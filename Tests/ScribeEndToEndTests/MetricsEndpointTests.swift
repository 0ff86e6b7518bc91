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
import Testing

/// `GET /metrics` from real `scribe` processes (swift-metrics is bootstrapped
/// once per process, so the process is what is tested): the API's HTTP
/// series by route template and status, `METRICS_PORT` and `METRICS_TOKEN`,
/// and a worker's job, OCR and LLM series on its own port.
@Suite(.serialized, .timeLimit(.minutes(5))) struct MetricsEndpointTests {
    static func scrape(_ http: HTTPClient, _ base: String, token: String? = nil) async throws -> MetricsSamples {
        let reply = try await send(.GET, base + "/metrics", token: token)
        try #require(reply.status == 200, "GET \(base)/metrics answered \(reply.status): \(reply.text)")
        return MetricsSamples(reply.text)
    }

    /// Runs `processes` (subcommand, extra environment) against a fresh database and the fake LLM.
    static func withProcesses(
        _ processes: [(command: String, environment: [String: String])],
        _ body: @Sendable (HTTPClient, String, [ChildProcess], PostgresClient) async throws -> Void
    ) async throws {
        let (url, configuration) = try await TestDatabase.createMigratedURL()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await FakeChatCompletionsServer.withRunning(default: .echo) { llm in
                try await withChildProcesses(grace: .seconds(5)) { started in
                    for (index, process) in processes.enumerated() {
                        var environment = WorkerProcessTests.workerEnvironment(databaseURL: url, llm: llm.baseURL).merging(process.environment) { $1 }
                        environment["JWT_SECRET"] = testSecret
                        environment["BCRYPT_COST"] = "4"
                        environment["HOST"] = "127.0.0.1"
                        try started.scribe(process.command, environment: environment, label: "metrics-\(process.command)-\(index)")
                    }
                    try await PostgresClient.withRunning(configuration, logger: TestDatabase.logger) { client in
                        try await body(http, url, started.all, client)
                    }
                    for process in started.all {
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

    @Test func theAPIServesItsMetricsOnItsOwnPortByRouteTemplateAndStatus() async throws {
        let port = freeLoopbackPort()
        try await Self.withProcesses([("api", ["PORT": "\(port)"])]) { http, _, _, _ in
            let api = "http://127.0.0.1:\(port)"
            try await waitUntil("the API answers") { try await send(.GET, api + "/health").status == 200 }
            let email = "\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let registered = try await send(.POST, api + "/v1/auth/register", json: ["email": email, "password": "correct horse battery staple"])
            let token = try #require(registered.json["access_token"] as? String, "\(registered.status) \(registered.text)")
            let created = try await send(.POST, api + "/v1/conversations", token: token, json: ["title": "metrics"])
            let conversation = try #require(created.json["id"] as? String)
            for _ in 0..<3 { #expect(try await send(.GET, api + "/v1/conversations/\(conversation)", token: token).status == 200) }
            #expect(try await send(.GET, api + "/v1/conversations/\(UUID())", token: token).status == 404)
            #expect(try await send(.GET, api + "/v1/me").status == 401)
            #expect(try await send(.POST, api + "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "Hello"]).status == 200)

            let samples = try await Self.scrape(http, api)
            let byID = ["route": "/v1/conversations/{id}", "method": "GET"]
            #expect(samples.value("http_requests_total", byID.merging(["status": "200"]) { $1 }) == 3, "\(samples)")
            #expect(samples.value("http_requests_total", byID.merging(["status": "404"]) { $1 }) == 1)
            #expect(samples.value("http_requests_total", ["route": "/v1/me", "method": "GET", "status": "401"]) == 1)
            #expect(samples.value("http_requests_total", ["route": "/v1/auth/register", "method": "POST", "status": "201"]) == 1)
            #expect(samples.value("http_request_duration_seconds_count", byID.merging(["status": "200"]) { $1 }) == 3)
            #expect(samples.value("http_request_duration_seconds_bucket", byID.merging(["status": "200", "le": "+Inf"]) { $1 }) == 3)
            // Low cardinality: route templates only, never an id.
            #expect(!samples.description.contains(conversation))
            // The synchronous chat asked the LLM; the pool and the queue are there too.
            #expect(samples.value("scribe_llm_calls_total", ["provider": "chat-completions"]) == 1)
            #expect(samples.value("scribe_llm_tokens_total", ["provider": "chat-completions", "type": "completion"]).map { $0 > 0 } == true)
            #expect(samples.value("scribe_db_pool_size") == 6)
            #expect(samples.value("scribe_db_pool_wait_seconds_count").map { $0 > 0 } == true)
            #expect(samples.value("scribe_db_reachable") == 1)
            #expect(samples.value("scribe_jobs", ["queue": "ocr", "state": "available"]) == 0)
            #expect(samples.value("scribe_jobs_oldest_available_age_seconds", ["queue": "answer"]) == 0)
        }
    }

    @Test func metricsPortMovesTheEndpointAndTheTokenGuardsIt() async throws {
        let (port, metricsPort) = (freeLoopbackPort(), freeLoopbackPort())
        let token = "metrics-token-0123456789"
        try await Self.withProcesses([("api", ["PORT": "\(port)", "METRICS_PORT": "\(metricsPort)", "METRICS_TOKEN": token])]) { http, _, _, _ in
            let (api, metrics) = ("http://127.0.0.1:\(port)", "http://127.0.0.1:\(metricsPort)")
            try await waitUntil("the API answers") { try await send(.GET, api + "/health").status == 200 }
            #expect(try await send(.GET, api + "/metrics").status == 404, "not on the API's port any more")
            #expect(try await send(.GET, metrics + "/metrics").status == 401)
            #expect(try await send(.GET, metrics + "/metrics", token: "not-the-token-at-all").status == 401)
            let samples = try await Self.scrape(http, metrics, token: token)
            #expect(samples.value("http_requests_total", ["route": "/health", "method": "GET", "status": "200"]).map { $0 >= 1 } == true, "\(samples)")
            #expect(samples.value("http_requests_total", ["route": "NotFound", "status": "404"]) == 1)
            #expect(samples.value("http_requests_total", ["route": "/metrics"]) == nil, "scrapes on the metrics port are not API requests")
        }
    }

    @Test func aWorkerServesItsJobOCRAndLLMSeriesOnItsMetricsPort() async throws {
        let metricsPort = freeLoopbackPort()
        try await Self.withProcesses([("worker", ["METRICS_PORT": "\(metricsPort)"])]) { http, url, processes, client in
            let metrics = "http://127.0.0.1:\(metricsPort)"
            try await waitUntil("the worker serves its metrics") { try await send(.GET, metrics + "/metrics").status == 200 }
            // Eight files: every eighth a page image (the `ocr` stage, then `answer`), the rest text.
            let jobs = try await Database.withRunning(try DatabaseURL(url), options: TestDatabase.options, logger: TestDatabase.logger) { database in
                try await WorkerProcessTests.enqueue(8, stores: Stores(database: database, logger: TestDatabase.logger))
            }
            #expect(try await WorkerProcessTests.waitUntilDrained(client, timeout: .seconds(120)), "\(processes[0].logTail())")

            // A job's attempt and duration are recorded just after its completion
            // commits, so the last one may lag the drained queue by a moment.
            var samples = try await Self.scrape(http, metrics)
            let deadline = ContinuousClock.now + .seconds(10)
            while samples.value("scribe_job_duration_seconds_count", ["queue": "answer", "kind": "answer"]) != Double(jobs), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                samples = try await Self.scrape(http, metrics)
            }
            #expect(samples.value("scribe_job_attempts_total", ["queue": "ocr", "kind": "ocr"]) == 1, "\(samples)")
            #expect(samples.value("scribe_job_attempts_total", ["queue": "answer", "kind": "answer"]) == Double(jobs))
            #expect(samples.value("scribe_job_duration_seconds_count", ["queue": "answer", "kind": "answer"]) == Double(jobs))
            #expect(samples.value("scribe_job_failures_total") == nil)
            #expect(samples.value("scribe_ocr_pages_total", ["source": "ocr"]) == 1)
            #expect(samples.value("scribe_ocr_page_duration_seconds_count") == 1)
            #expect(samples.value("scribe_ocr_page_duration_seconds_sum").map { $0 > 0 } == true)
            #expect(samples.value("scribe_llm_calls_total", ["provider": "chat-completions"]) == Double(jobs))
            #expect(samples.value("scribe_llm_call_duration_seconds_count", ["provider": "chat-completions"]) == Double(jobs))
            #expect(samples.value("scribe_llm_tokens_total", ["provider": "chat-completions", "type": "prompt"]).map { $0 > 0 } == true)
            #expect(samples.value("scribe_db_pool_wait_seconds_count").map { $0 > 0 } == true)
            #expect(samples.labelSets("scribe_jobs").contains(["queue": "answer", "state": "running"]))
            #expect(samples.value("http_requests_total") == nil, "a worker serves no API")
        }
    }
}
