import Foundation

/// Tiny helpers to write JSON from dictionaries.
enum JSON {
    /// `value` serialised with sorted keys; `"{}"` if it cannot be.
    static func string(_ value: Any) -> String {
        guard JSONSerialization.isValidJSONObject(value),
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
