/// An error from a store about the rows it was asked for, with a reason that
/// is safe to show and to log. (An unreachable database is a
/// `DatabaseError` of ScribePostgres.)
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a category callers can switch over.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The row does not exist, or belongs to another user.
        public static let notFound = Code(name: "not_found")
        /// A unique value (email, username, idempotency key) is already taken.
        public static let conflict = Code(name: "conflict")
    }

    /// The category.
    public var code: Code
    /// A sentence a person can read; never contains secrets or row data.
    public var reason: String
    /// For conflicts: the field whose value is taken.
    public var field: String?

    /// Creates an error.
    public init(_ code: Code, _ reason: String, field: String? = nil) {
        self.code = code
        self.reason = reason
        self.field = field
    }

    public var description: String { "\(code): \(reason)" }
}
