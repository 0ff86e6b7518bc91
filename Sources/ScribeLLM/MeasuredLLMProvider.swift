import Metrics

/// An ``LLMProvider`` that records every call of the one it wraps in
/// ``LLMMetrics`` (calls, duration, tokens, errors), whatever the provider.
public struct MeasuredLLMProvider: LLMProvider {
    /// The provider that answers.
    public let base: any LLMProvider
    let metrics: LLMMetrics

    /// Wraps `base`, recording through `factory`: the process's bootstrapped
    /// backend unless a test passes its own.
    public init(_ base: any LLMProvider, factory: any MetricsFactory = MetricsSystem.factory) {
        self.base = base
        self.metrics = LLMMetrics(provider: base.name, factory: factory)
    }

    /// The wrapped provider's name.
    public var name: String { base.name }

    public func complete(_ messages: [ChatMessage]) async throws(LLMError) -> ChatCompletion {
        try await metrics.measure { () async throws(LLMError) in try await base.complete(messages) }
    }

    public func stream(_ messages: [ChatMessage], onDelta: @escaping AnswerDeltas) async throws(LLMError) -> ChatCompletion {
        try await metrics.measure { () async throws(LLMError) in try await base.stream(messages, onDelta: onDelta) }
    }
}
