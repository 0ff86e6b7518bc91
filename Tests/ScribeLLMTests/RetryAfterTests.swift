import Foundation
import Testing

@testable import ScribeLLM

@Suite("Retry-After, endpoint URL and token estimate")
struct RetryAfterTests {
    private let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT

    @Test func secondsAndFractions() {
        #expect(RetryAfter.parse("1", now: now) == .seconds(1))
        #expect(RetryAfter.parse(" 120 ", now: now) == .seconds(120))
        #expect(RetryAfter.parse("0.5", now: now) == .milliseconds(500))
        #expect(RetryAfter.parse("-3", now: now) == nil)
        #expect(RetryAfter.parse("soon", now: now) == nil)
    }

    @Test func httpDatesInAllThreeFormats() {
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:47 GMT", now: now) == .seconds(10))
        #expect(RetryAfter.parse("Sunday, 06-Nov-94 08:49:57 GMT", now: now) == .seconds(20))
        #expect(RetryAfter.parse("Sun Nov  6 08:50:07 1994", now: now) == .seconds(30))
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:00:00 GMT", now: now) == .zero)
    }

    @Test func millisecondHeaderWins() {
        #expect(RetryAfter.delay(retryAfterMilliseconds: "250", retryAfter: "5", now: now) == .milliseconds(250))
        #expect(RetryAfter.delay(retryAfterMilliseconds: nil, retryAfter: "5", now: now) == .seconds(5))
        #expect(RetryAfter.delay(retryAfterMilliseconds: nil, retryAfter: nil, now: now) == nil)
    }

    @Test func endpointURLHandlesTrailingSlashes() {
        let plain = ChatCompletionsClient.Configuration(baseURL: "https://api.mistral.ai/v1", model: "m")
        let slashed = ChatCompletionsClient.Configuration(baseURL: "https://api.mistral.ai/v1//", model: "m")
        let full = ChatCompletionsClient.Configuration(baseURL: "http://localhost:8080/v1/chat/completions", model: "m")
        #expect(plain.endpointURL == "https://api.mistral.ai/v1/chat/completions")
        #expect(slashed.endpointURL == "https://api.mistral.ai/v1/chat/completions")
        #expect(full.endpointURL == "http://localhost:8080/v1/chat/completions")
    }

    @Test func tokenEstimateRoundsUp() {
        #expect(TokenEstimate.tokens(in: "") == 0)
        #expect(TokenEstimate.tokens(in: "abc") == 1)
        #expect(TokenEstimate.tokens(in: "abcde") == 2)
        #expect(TokenEstimate.tokens(in: "привет") == 3)  // 12 UTF-8 bytes
    }
}
