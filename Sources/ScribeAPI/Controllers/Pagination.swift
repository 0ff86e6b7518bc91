import Hummingbird

/// `?limit=` and `?after=` of a list route, checked: a bad value is a 400, not a guess.
struct Pagination {
    static let defaultLimit = 50
    static let maxLimit = 200

    var limit: Int
    var after: String?

    init(_ request: Request) throws(APIError) {
        let query = request.uri.queryParameters
        if let text = query["limit"] {
            guard let limit = Int(String(text)), (1...Self.maxLimit).contains(limit) else {
                throw .badRequest("'limit' must be a whole number from 1 to \(Self.maxLimit).", field: "limit")
            }
            self.limit = limit
        } else {
            limit = Self.defaultLimit
        }
        after = query["after"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    static func badCursor() -> APIError {
        .badRequest("'after' is not a cursor this list returned.", field: "after")
    }
}
