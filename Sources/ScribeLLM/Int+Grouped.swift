extension Int {
    /// The number with thousands separated by commas, e.g. `12,345`.
    var grouped: String {
        let digits = String(magnitude)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 {
                result.append(",")
            }
            result.append(digit)
        }
        return self < 0 ? "-" + result : result
    }
}
