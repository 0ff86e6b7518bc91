import Foundation
import Hummingbird

extension Request {
    /// Decodes the JSON body, answering 400 with the offending field for bad JSON
    /// and 413 for a body over the context's limit.
    func decodeJSON<Value: Decodable>(as type: Value.Type, context: ScribeRequestContext) async throws -> Value {
        let body = try await body.collect(upTo: context.maxUploadSize)
        guard body.readableBytes > 0 else { throw APIError.badRequest("The request body must be a JSON object.") }
        let value: Value
        do {
            value = try context.requestDecoder.decode(Value.self, from: body)
        } catch let error as DecodingError {
            throw ErrorMiddleware<ScribeRequestContext>.apiError(for: error)
        }
        if let field = NULCharacter.field(inJSON: body) {
            throw APIError.badRequest(NULCharacter.message(field: field), field: field)
        }
        return value
    }
}

/// PostgreSQL's text cannot hold U+0000, yet a JSON string can carry it
/// (`\u0000`): such input is the client's mistake, a 400 that names the field,
/// never a failed statement and a 500.
enum NULCharacter {
    /// The path (`title`, `items[2].text`) of the first string value in a
    /// JSON body that holds U+0000, or nil. Bodies without the escape (nearly
    /// all) are not parsed again.
    static func field(inJSON body: ByteBuffer) -> String? {
        guard body.readableBytesView.firstRange(of: Array(#"\u0000"#.utf8)) != nil,
            let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: [.fragmentsAllowed])
        else { return nil }
        return field(in: object, path: "")
    }

    static func message(field: String) -> String {
        "The field '\(field)' must not contain the NUL character (U+0000)."
    }

    private static func field(in value: Any, path: String) -> String? {
        switch value {
        case let text as String:
            return text.unicodeScalars.contains("\u{0}") ? (path.isEmpty ? "body" : path) : nil
        case let object as [String: Any]:
            for (key, element) in object.sorted(by: { $0.key < $1.key }) {
                if let found = field(in: element, path: path.isEmpty ? key : "\(path).\(key)") { return found }
            }
            return nil
        case let array as [Any]:
            for (index, element) in array.enumerated() {
                if let found = field(in: element, path: "\(path)[\(index)]") { return found }
            }
            return nil
        default:
            return nil
        }
    }
}

extension Parameters {
    /// A UUID path parameter; a malformed one names nothing, so it is a 404.
    func uuid(_ name: String, naming what: String) throws(APIError) -> UUID {
        guard let text = self.get(name), let id = UUID(uuidString: text) else { throw .notFound(what) }
        return id
    }
}
