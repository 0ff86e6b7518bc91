import Metrics
import Synchronization

/// What Scribe records about one LLM provider's calls, through swift-metrics
/// (the process chooses the backend; with none bootstrapped it costs nothing),
/// each labelled with the provider's ``LLMProvider/name``:
///
/// - `scribe_llm_calls_total{provider}`: answers asked for.
/// - `scribe_llm_call_duration_seconds{provider}`: how long each answered call
///   took, retries included.
/// - `scribe_llm_tokens_total{provider, type}`: tokens the provider reported
///   (`type` is `prompt` or `completion`).
/// - `scribe_llm_errors_total{provider, kind}`: calls that ended without an
///   answer, by ``LLMError/Kind`` (`rateLimited`, `timeout`, `unavailable`,
///   `invalidResponse`, `rejected`, `cancelled`).
/// - `scribe_llm_retries_total{provider, kind}`: failed attempts that
///   ``ChatCompletionsClient`` tried again, by the attempt's error kind.
public final class LLMMetrics: Sendable {
    let calls: Counter
    let duration: Timer
    let promptTokens: Counter
    let completionTokens: Counter
    private let provider: String
    private let factory: any MetricsFactory
    private let errors = Mutex<[LLMError.Kind: Counter]>([:])
    private let retries = Mutex<[LLMError.Kind: Counter]>([:])

    /// The metrics of `provider`, recorded through `factory`: the process's
    /// bootstrapped backend unless a test passes its own.
    public init(provider: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.provider = provider
        self.factory = factory
        calls = Counter(label: "scribe_llm_calls_total", dimensions: [("provider", provider)], factory: factory)
        duration = Timer(label: "scribe_llm_call_duration_seconds", dimensions: [("provider", provider)], factory: factory)
        promptTokens = Counter(label: "scribe_llm_tokens_total", dimensions: [("provider", provider), ("type", "prompt")], factory: factory)
        completionTokens = Counter(
            label: "scribe_llm_tokens_total", dimensions: [("provider", provider), ("type", "completion")], factory: factory
        )
    }

    /// Runs one call and records it: its duration and tokens, or its error.
    func measure(_ call: () async throws(LLMError) -> ChatCompletion) async throws(LLMError) -> ChatCompletion {
        calls.increment()
        let started = ContinuousClock.now
        let completion: ChatCompletion
        do throws(LLMError) {
            completion = try await call()
        } catch {
            counter(for: error.kind, in: errors, label: "scribe_llm_errors_total").increment()
            throw error
        }
        duration.record(duration: ContinuousClock.now - started)
        if let usage = completion.usage {
            promptTokens.increment(by: usage.promptTokens)
            completionTokens.increment(by: usage.completionTokens)
        }
        return completion
    }

    /// Counts an attempt that failed with `kind` and will be tried again.
    func retried(_ kind: LLMError.Kind) {
        counter(for: kind, in: retries, label: "scribe_llm_retries_total").increment()
    }

    private func counter(for kind: LLMError.Kind, in counters: borrowing Mutex<[LLMError.Kind: Counter]>, label: String) -> Counter {
        counters.withLock { counters in
            if let counter = counters[kind] { return counter }
            let counter = Counter(label: label, dimensions: [("provider", provider), ("kind", kind.description)], factory: factory)
            counters[kind] = counter
            return counter
        }
    }
}
