import Foundation

/// Reads how long a server asked us to wait before retrying.
enum RetryAfter {
    /// The wait from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or an HTTP-date),
    /// or `nil` when neither is present and readable.
    static func delay(retryAfterMilliseconds: String?, retryAfter: String?, now: Date = Date()) -> Duration? {
        if let milliseconds = retryAfterMilliseconds.flatMap({ Double($0.trimmingWhitespace()) }), milliseconds >= 0 {
            return .fromSeconds(milliseconds / 1000)
        }
        return retryAfter.flatMap { parse($0, now: now) }
    }

    /// Parses a `Retry-After` value: delay-seconds (fractions tolerated) or an HTTP-date
    /// (IMF-fixdate, RFC 850 or asctime). A date in the past means "now" (zero).
    static func parse(_ value: String, now: Date = Date()) -> Duration? {
        let trimmed = value.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        if let seconds = Double(trimmed) {
            return seconds >= 0 ? .fromSeconds(seconds) : nil
        }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) {
                return .fromSeconds(date.timeIntervalSince(now))
            }
        }
        return nil
    }
}
