import Foundation
import Hummingbird

extension Request {
    /// Decodes the JSON body, answering 400 with the offending field for bad JSON
    /// and 413 for a body over the context's limit.
    func decodeJSON<Value: Decodable>(as type: Value.Type, context: ScribeRequestContext) async throws -> Value {
        let body = try await body.collect(upTo: context.maxUploadSize)
        guard body.readableBytes > 0 else { throw APIError.badRequest("The request body must be a JSON object.") }
        do {
            return try context.requestDecoder.decode(Value.self, from: body)
        } catch let error as DecodingError {
            throw ErrorMiddleware<ScribeRequestContext>.apiError(for: error)
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
