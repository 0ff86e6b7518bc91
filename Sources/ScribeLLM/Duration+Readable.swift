import NIOCore

extension Duration {
    /// A duration of `seconds` seconds (negative values become zero).
    static func fromSeconds(_ seconds: Double) -> Duration {
        guard seconds.isFinite, seconds > 0 else { return .zero }
        return .nanoseconds(Int64(min(seconds, 1e9) * 1e9))
    }

    /// The same span as a NIO `TimeAmount` (for AsyncHTTPClient deadlines).
    var timeAmount: TimeAmount {
        let parts = components
        return .nanoseconds(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000)
    }

    /// A short readable form such as `1.5 s` or `300 ms`.
    var readable: String {
        let seconds = self / .seconds(1)
        if seconds < 1 {
            return "\(Int((seconds * 1000).rounded())) ms"
        }
        let tenths = (seconds * 10).rounded() / 10
        if tenths == tenths.rounded() {
            return "\(Int(tenths)) s"
        }
        return "\(tenths) s"
    }
}
