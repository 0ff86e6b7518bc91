/// An error from the database layer, with a reason that is safe to show and to log.
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a category callers can switch over.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The database cannot be reached, or did not answer within its timeout:
        /// nothing was written by the failed call (unless its COMMIT was already
        /// on its way), and the same call may succeed a moment later.
        public static let unavailable = Code(name: "unavailable")
        /// The configuration (database URL, migrations folder) is unusable.
        public static let invalidConfiguration = Code(name: "invalid_configuration")
        /// A migration file could not be read or applied.
        public static let migrationFailed = Code(name: "migration_failed")
    }

    /// The category.
    public var code: Code
    /// A sentence a person can read; never contains secrets or row data.
    public var reason: String

    /// Creates an error.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }

    /// The database cannot be reached or did not answer in time.
    public static let unavailable = DatabaseError(.unavailable, "The database is not reachable right now (a fresh connection to it failed).")
}
