extension String {
    /// The string without leading and trailing whitespace and newlines.
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace {
            slice.removeFirst()
        }
        while let last = slice.last, last.isWhitespace {
            slice.removeLast()
        }
        return String(slice)
    }

    /// The string cut to at most `limit` characters, with an ellipsis when it was cut.
    func truncated(to limit: Int) -> String {
        guard count > limit else { return self }
        return String(prefix(max(0, limit - 1))) + "…"
    }
}
