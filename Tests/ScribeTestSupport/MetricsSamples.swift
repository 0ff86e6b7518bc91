import Metrics
import Prometheus

/// A Prometheus registry of one test's own. swift-metrics can be bootstrapped
/// only once per process, so in-process tests pass ``factory`` to what they
/// measure, and read back what a scrape would show.
public struct TestMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    public init() {}

    /// Records into ``registry``.
    public var factory: any MetricsFactory { PrometheusMetricsFactory(registry: registry) }

    /// The registry as a scrape of `/metrics` shows it now.
    public var samples: MetricsSamples { MetricsSamples(registry.emitToString()) }

    /// The samples once `condition` holds of them (checked every 20 ms);
    /// throws, with what the registry holds, after `timeout`.
    @discardableResult
    public func waitUntil(timeout: Duration = .seconds(30), _ condition: (MetricsSamples) -> Bool) async throws -> MetricsSamples {
        let deadline = ContinuousClock.now + timeout
        while true {
            let samples = self.samples
            if condition(samples) { return samples }
            guard ContinuousClock.now < deadline else { throw MetricsTimeout(samples: samples) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// What the metrics held when a test gave up waiting for them.
public struct MetricsTimeout: Error, CustomStringConvertible {
    public var samples: MetricsSamples
    public var description: String { "the metrics never matched; they were:\n\(samples)" }
}

/// The samples of a scrape in Prometheus' text format, e.g.
/// `http_requests_total{route="/v1/conversations/{id}",method="GET",status="200"} 3`.
public struct MetricsSamples: Sendable, CustomStringConvertible {
    public struct Sample: Sendable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public let samples: [Sample]
    public let description: String

    public init(_ text: String) {
        description = text
        samples = text.split(separator: "\n").compactMap { Self.parse(Substring($0)) }
    }

    /// The sum of the samples named `name` whose labels include `labels`; nil when there is none.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    /// Every label set of the samples named `name`.
    public func labelSets(_ name: String) -> [[String: String]] {
        samples.filter { $0.name == name }.map(\.labels)
    }

    /// `name{a="x",b="y"} value` (comments and blank lines give nil).
    static func parse(_ line: Substring) -> Sample? {
        guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            return nil
        }
        let series = line[..<space]
        guard let open = series.firstIndex(of: "{") else {
            return Sample(name: String(series), labels: [:], value: value)
        }
        var labels: [String: String] = [:]
        var rest = series[series.index(after: open)...]
        // key="value", with \" \\ \n escapes in the value, until the closing brace.
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].trimmingPrefix(",")
            var index = rest.index(equals, offsetBy: 2)
            var text = ""
            while index < rest.endIndex, rest[index] != "\"" {
                if rest[index] == "\\", rest.index(after: index) < rest.endIndex {
                    index = rest.index(after: index)
                    text.append(rest[index] == "n" ? "\n" : rest[index])
                } else {
                    text.append(rest[index])
                }
                index = rest.index(after: index)
            }
            labels[String(key)] = text
            rest = rest[rest.index(after: min(index, rest.index(before: rest.endIndex)))...]
        }
        return Sample(name: String(series[..<open]), labels: labels, value: value)
    }
}
