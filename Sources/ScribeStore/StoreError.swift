/// An error from the store, with a reason that is safe to show and to log.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a category callers can switch over.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The row does not exist, or belongs to another user.
        public static let notFound = Code(name: "not_found")
        /// A unique value (email, username, idempotency key) is already taken.
        public static let conflict = Code(name: "conflict")
        /// The job's lease expired and the job was handed to another worker (or
        /// back to the queue): this worker must not record an outcome for it.
        public static let leaseLost = Code(name: "lease_lost")
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
    /// For conflicts: the field whose value is taken.
    public var field: String?

    /// Creates an error.
    public init(_ code: Code, _ reason: String, field: String? = nil) {
        self.code = code
        self.reason = reason
        self.field = field
    }

    public var description: String { "\(code): \(reason)" }

    /// The database cannot be reached or did not answer in time.
    public static let unavailable = StoreError(.unavailable, "The database is not reachable right now (a fresh connection to it failed).")
}
