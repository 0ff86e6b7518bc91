import Foundation
import NIOCore
import NIOFoundationCompat

/// What an error response body says, whatever shape the provider used.
///
/// Understands `{"error": {"message", "type", "code"}}` (OpenAI), `{"error": "text"}`,
/// `{"message": "text" | {...}, "type", "code"}` (Mistral, whose `message` may be an object),
/// `{"detail": "text" | [{"loc", "msg"}]}` (FastAPI-based servers such as vLLM), and plain text.
struct APIErrorBody {
    /// The provider's explanation, flattened to one line.
    var message: String?
    /// The provider's error code (`code`), as a string.
    var code: String?
    /// The provider's error type (`type`).
    var type: String?

    /// Whether the account is out of credit: never worth retrying, even when sent as 429.
    var isInsufficientQuota: Bool {
        code == "insufficient_quota" || type == "insufficient_quota"
    }

    init(message: String? = nil, code: String? = nil, type: String? = nil) {
        self.message = message
        self.code = code
        self.type = type
    }

    /// Reads an error body; never fails (unknown shapes give the raw text, or nothing).
    init(parsing body: ByteBuffer) {
        let data = Data(buffer: body)
        guard let json = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            let text = String(decoding: data, as: UTF8.self)
            self.init(message: Self.plainText(text))
            return
        }
        self.init(json: json)
    }

    init(json: Any) {
        guard let object = json as? [String: Any] else {
            self.init(message: Self.render(json))
            return
        }
        var result = APIErrorBody()
        if let error = object["error"] {
            if let nested = error as? [String: Any] {
                result.message = (nested["message"] ?? nested["detail"]).flatMap(Self.render)
                result.code = nested["code"].flatMap(Self.scalar)
                result.type = nested["type"].flatMap(Self.scalar)
            } else {
                result.message = Self.render(error)
            }
        }
        if result.message == nil, let message = object["message"] {
            result.message = Self.render(message)
        }
        if result.message == nil, let detail = object["detail"] {
            result.message = Self.render(detail)
        }
        if result.code == nil {
            result.code = object["code"].flatMap(Self.scalar)
        }
        if result.type == nil {
            result.type = object["type"].flatMap(Self.scalar)
        }
        self = result
    }

    /// A string, number or boolean as text; `nil` for null and containers.
    private static func scalar(_ value: Any) -> String? {
        switch value {
        case let string as String: string
        case let number as NSNumber: number.stringValue
        default: nil
        }
    }

    /// Any JSON value as one readable line.
    private static func render(_ value: Any) -> String? {
        switch value {
        case let string as String:
            return plainText(string)
        case let object as [String: Any]:
            if let inner = object["message"] ?? object["detail"] ?? object["msg"] {
                let text = render(inner)
                if let location = object["loc"] as? [Any], let text {
                    return location.compactMap(scalar).joined(separator: ".") + ": " + text
                }
                return text
            }
            return compactJSON(object)
        case let array as [Any]:
            let parts = array.compactMap(render)
            return parts.isEmpty ? nil : parts.joined(separator: "; ")
        case is NSNull:
            return nil
        default:
            return scalar(value) ?? compactJSON(value)
        }
    }

    private static func compactJSON(_ value: Any) -> String? {
        guard JSONSerialization.isValidJSONObject(value),
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Text on one line, whitespace collapsed; `nil` when empty.
    private static func plainText(_ text: String) -> String? {
        let collapsed = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return collapsed.isEmpty ? nil : collapsed
    }
}
