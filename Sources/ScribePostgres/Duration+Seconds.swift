extension Duration {
    /// The duration in (fractional) seconds, for `make_interval(secs => …)`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
