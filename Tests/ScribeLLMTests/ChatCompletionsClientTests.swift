import AsyncHTTPClient
import Foundation
import ScribeLLM
import ScribeLLMTesting
import Testing

@Suite("ChatCompletionsClient over loopback HTTP")
struct ChatCompletionsClientTests {
    @Test func happyPathSendsMistralCompatibleBodyAndParsesAnswer() async throws {
        try await FakeChatCompletionsServer.withRunning { server in
            try await withClient(testConfiguration(server, temperature: 0.2)) { client in
                let completion = try await client.complete([.system("Be brief."), .user("Hello there")])
                #expect(completion.content == "echo: Hello there")
                #expect(completion.model == "fake-model-1")
                #expect(completion.isOffline == false)
                let usage = try #require(completion.usage)
                #expect(usage.promptTokens > 0)
                #expect(usage.completionTokens > 0)
                #expect(usage.totalTokens == usage.promptTokens + usage.completionTokens)
            }
            #expect(server.requestCount == 1)
            let request = try #require(server.requests.first)
            #expect(request.method == "POST")
            #expect(request.path == "/v1/chat/completions")
            #expect(request.contentType == "application/json")
            #expect(request.authorization == "Bearer \(testAPIKey)")
            #expect(request.model == "fake-model-1")
            #expect(request.messages == [.init(role: "system", content: "Be brief."), .init(role: "user", content: "Hello there")])
            #expect(request.maxTokens == 256)
            #expect(request.temperature == 0.2)
            #expect(request.stream == false)
            #expect(request.fieldNames == ["model", "messages", "max_tokens", "temperature", "stream"])
            #expect(!request.fieldNames.contains("max_completion_tokens"))
        }
    }

    @Test(arguments: [nil, "", "  "] as [String?])
    func noAuthorizationHeaderWithoutKey(apiKey: String?) async throws {
        try await FakeChatCompletionsServer.withRunning { server in
            var configuration = testConfiguration(server, apiKey: apiKey, maxTokens: nil)
            configuration.baseURL += "/"
            try await withClient(configuration) { client in
                _ = try await client.complete([.user("ping")])
            }
            let request = try #require(server.requests.first)
            #expect(request.path == "/v1/chat/completions")
            #expect(!request.hasAuthorization)
            #expect(request.fieldNames == ["model", "messages", "stream"])
        }
    }

    @Test func rateLimitWithRetryAfterIsHonouredThenSucceeds() async throws {
        try await FakeChatCompletionsServer.withRunning(.error(429, message: "Slow down", type: "rate_limit_exceeded", retryAfter: "1")) {
            server in
            let (completion, elapsed) = try await measure {
                try await withClient(testConfiguration(server)) { client in
                    try await client.complete([.user("again")])
                }
            }
            #expect(completion.content == "echo: again")
            #expect(server.requestCount == 2)
            #expect(elapsed >= .milliseconds(950))
            #expect(elapsed < .seconds(10))
        }
    }

    @Test func serverErrorsExhaustAttempts() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .status(500, body: #"{"error": {"message": "boom"}}"#)) { server in
            let error = try await withClient(testConfiguration(server, maxAttempts: 3)) { client in
                await completionError(client)
            }
            let failure = try #require(error)
            #expect(failure.kind == .unavailable)
            #expect(failure.statusCode == 500)
            #expect(failure.isRetryable)
            #expect(failure.message.contains("boom"))
            #expect(failure.message.contains("3 attempts"))
            #expect(server.requestCount == 3)
        }
    }

    @Test func slowServerTimesOutWithinTheTotalBudget() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .delay(.seconds(8), then: .echo)) { server in
            // Attempts of 1 s inside a 3 s budget: long enough that a loaded machine still
            // connects, short enough that the budget, not the 8 s delay, ends the call.
            let configuration = testConfiguration(server, attemptTimeout: .seconds(1), totalTimeout: .seconds(3), maxAttempts: 10)
            let (error, elapsed) = try await measure {
                try await withClient(configuration) { client in
                    await completionError(client)
                }
            }
            let failure = try #require(error)
            #expect(failure.kind == .timeout)
            #expect(failure.isRetryable)
            // Which sentence depends on where the budget ran out (inside an attempt or
            // between two); both name it.
            #expect(failure.message.contains("3 s total timeout"), "\(failure.message)")
            #expect(elapsed < .seconds(7), "bounded by the total timeout, not the 8 s delay")
            // Retries within the budget are the client's to make; on a loaded machine a
            // retry's connection may not reach the server before the budget ends.
            #expect(server.requestCount >= 1)
        }
    }

    @Test func malformedJSONIsAnInvalidResponse() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .malformedJSON) { server in
            let error = try await withClient(testConfiguration(server)) { client in
                await completionError(client)
            }
            let failure = try #require(error)
            #expect(failure.kind == .invalidResponse)
            #expect(!failure.isRetryable)
            #expect(failure.statusCode == 200)
            #expect(server.requestCount == 1)
        }
    }

    @Test func streamedAnswerToANonStreamingRequestIsAnInvalidResponse() async throws {
        try await FakeChatCompletionsServer.withRunning(.stream(chunks: ["Hel", "lo"])) { server in
            let error = try await withClient(testConfiguration(server)) { client in
                await completionError(client)
            }
            #expect(error?.kind == .invalidResponse)
            #expect(server.requestCount == 1)
        }
    }

    @Test func answerWithoutChoicesIsAnInvalidResponse() async throws {
        try await FakeChatCompletionsServer.withRunning(.status(200, body: #"{"id": "x", "choices": []}"#)) { server in
            let error = try await withClient(testConfiguration(server)) { client in
                await completionError(client)
            }
            #expect(error?.kind == .invalidResponse)
            #expect(error?.message.contains("without any choices") == true)
        }
    }

    @Test func contentAsArrayOfTextPartsIsJoined() async throws {
        let body = #"""
            {"model": "m-parts", "choices": [{"index": 0, "message": {"role": "assistant",
             "content": [{"type": "text", "text": "Hello, "}, {"type": "image_url", "image_url": "x"}, {"type": "text", "text": "world"}]}}]}
            """#
        try await FakeChatCompletionsServer.withRunning(.status(200, body: body)) { server in
            let completion = try await withClient(testConfiguration(server)) { client in
                try await client.complete([.user("parts")])
            }
            #expect(completion.content == "Hello, world")
            #expect(completion.model == "m-parts")
            #expect(completion.usage == nil)
        }
    }

    @Test(arguments: [400, 401, 403, 404, 422])
    func clientErrorsAreRejectedWithoutRetry(status: Int) async throws {
        try await FakeChatCompletionsServer.withRunning(default: .error(status, message: "Nope (\(status))")) { server in
            let error = try await withClient(testConfiguration(server)) { client in
                await completionError(client)
            }
            let failure = try #require(error)
            #expect(failure.kind == .rejected)
            #expect(!failure.isRetryable)
            #expect(failure.statusCode == status)
            #expect(failure.message.contains("Nope (\(status))"))
            #expect(server.requestCount == 1)
        }
    }

    @Test func insufficientQuotaIsRejectedEvenAs429() async throws {
        let quota = FakeChatCompletionsServer.Behaviour.error(
            429, message: "You exceeded your current quota.", type: "insufficient_quota", code: "insufficient_quota", retryAfter: "1")
        try await FakeChatCompletionsServer.withRunning(default: quota) { server in
            let error = try await withClient(testConfiguration(server)) { client in
                await completionError(client)
            }
            let failure = try #require(error)
            #expect(failure.kind == .rejected)
            #expect(!failure.isRetryable)
            #expect(failure.statusCode == 429)
            #expect(failure.message.contains("exceeded your current quota"))
            #expect(server.requestCount == 1)
        }
    }

    @Test(arguments: [
        (#"{"object": "error", "message": "Invalid model: fake-model-1", "type": "invalid_model", "param": null, "code": "1500"}"#,
         "Invalid model: fake-model-1"),
        (#"{"object": "error", "message": {"detail": [{"type": "missing", "loc": ["body", "messages"], "msg": "Field required", "input": {}}]}, "type": "invalid_request_message_error", "param": null, "code": null}"#,
         "body.messages: Field required"),
        (#"{"error": "model not found"}"#, "model not found"),
        (#"{"detail": "Not Found"}"#, "Not Found"),
        (#"{"detail": [{"loc": ["body", "max_tokens"], "msg": "must be positive", "type": "value_error"}]}"#, "body.max_tokens: must be positive"),
        ("<html><body>Bad gateway-ish\n  page</body></html>", "<html><body>Bad gateway-ish page</body></html>"),
    ])
    func errorBodiesBecomeReadableMessages(body: String, expected: String) async throws {
        try await FakeChatCompletionsServer.withRunning(default: .status(400, body: body)) { server in
            let error = try await withClient(testConfiguration(server)) { client in
                await completionError(client)
            }
            let failure = try #require(error)
            #expect(failure.kind == .rejected)
            #expect(failure.message.hasPrefix("The LLM service answered HTTP 400"))
            #expect(failure.message.contains(expected), "\(failure.message)")
            #expect(failure.message.count <= 301)
        }
    }

    @Test func longErrorBodiesAreTruncated() async throws {
        let long = String(repeating: "very long explanation ", count: 100)
        try await FakeChatCompletionsServer.withRunning(default: .error(400, message: long)) { server in
            let error = try await withClient(testConfiguration(server)) { client in
                await completionError(client)
            }
            let message = try #require(error?.message)
            #expect(message.count <= 301)
            #expect(message.hasSuffix("…"))
        }
    }

    @Test func errorMessagesNeverContainTheAPIKey() async throws {
        let echoed = FakeChatCompletionsServer.Behaviour.error(401, message: "Incorrect API key provided: \(testAPIKey).", type: "invalid_api_key")
        try await FakeChatCompletionsServer.withRunning(default: echoed) { server in
            let error = try await withClient(testConfiguration(server)) { client in
                await completionError(client)
            }
            let failure = try #require(error)
            #expect(failure.kind == .rejected)
            #expect(!failure.message.contains(testAPIKey))
            #expect(!failure.description.contains(testAPIKey))
            #expect(failure.message.contains("[redacted]"))
        }
    }

    @Test func retryAfterBeyondTheBudgetFailsFast() async throws {
        try await FakeChatCompletionsServer.withRunning(default: .error(429, message: "Try much later", retryAfter: "30")) { server in
            // A budget the first answer fits in even on a loaded machine, and the Retry-After well past it.
            let configuration = testConfiguration(server, totalTimeout: .seconds(10))
            let (error, elapsed) = try await measure {
                try await withClient(configuration) { client in
                    await completionError(client)
                }
            }
            let failure = try #require(error)
            #expect(failure.kind == .rateLimited)
            #expect(failure.isRetryable)
            #expect(failure.retryAfter == .seconds(30))
            #expect(elapsed < .seconds(9), "did not sleep the 30 s Retry-After, nor wait out the budget")
            #expect(server.requestCount == 1)
        }
    }

    @Test func retryAfterAsHTTPDateIsHonoured() async throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let start = ContinuousClock.now
        let soon = formatter.string(from: Date().addingTimeInterval(60))
        try await FakeChatCompletionsServer.withRunning(default: .error(503, message: "Maintenance", retryAfter: soon)) { server in
            let error = try await withClient(testConfiguration(server, totalTimeout: .seconds(5))) { client in
                await completionError(client)
            }
            // The date is a minute from `start`; however slow the machine, the
            // delay is what is left of that minute (to the second the header keeps).
            let elapsed = ContinuousClock.now - start
            let failure = try #require(error)
            #expect(failure.kind == .unavailable)
            let retryAfter = try #require(failure.retryAfter)
            #expect(retryAfter > .seconds(59) - elapsed - .seconds(1) && retryAfter <= .seconds(61), "\(retryAfter) after \(elapsed)")
            #expect(server.requestCount == 1)
        }
    }

    @Test func droppedConnectionIsRetried() async throws {
        try await FakeChatCompletionsServer.withRunning(.disconnect) { server in
            let completion = try await withClient(testConfiguration(server)) { client in
                try await client.complete([.user("still there?")])
            }
            #expect(completion.content == "echo: still there?")
            #expect(server.requestCount == 2)
        }
    }

    @Test func refusedConnectionFailsFastWithoutPoolRetries() async throws {
        let configuration = ChatCompletionsClient.Configuration(
            baseURL: "http://127.0.0.1:1/v1", model: "m",
            maxAttempts: 3, backoffBase: .milliseconds(10), backoffCap: .milliseconds(20))
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.connectionPool.retryConnectionEstablishment = false
        let (error, elapsed) = try await measure {
            try await withClient(configuration, httpConfiguration: httpConfiguration) { client in
                await completionError(client)
            }
        }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("Gave up after 3 attempts") == true)
        #expect(elapsed < .seconds(10), "did not wait the 60 s attempt timeout")
    }

    @Test func cancellationStopsTheCallPromptly() async throws {
        // The answer would take 30 s, so a call that ignored its cancellation
        // stands far apart from one that stopped, even on a loaded machine.
        try await FakeChatCompletionsServer.withRunning(default: .delay(.seconds(30), then: .echo)) { server in
            let configuration = testConfiguration(server, attemptTimeout: .seconds(60), totalTimeout: .seconds(60), maxAttempts: 1)
            let (error, afterCancel) = try await withClient(configuration) { client in
                let call = Task { await completionError(client) }
                try await Task.sleep(for: .milliseconds(200))
                return await measure {
                    call.cancel()
                    return await call.value
                }
            }
            #expect(error?.kind == .cancelled)
            #expect(afterCancel < .seconds(10), "stopped at the cancellation, not at the 30 s answer: \(afterCancel)")
        }
    }
}
