/// An error from the queue about a job's lease.
public struct QueueError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a category callers can switch over.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The job's lease expired and the job was handed to another worker (or
        /// back to the queue): this worker must not record an outcome for it.
        public static let leaseLost = Code(name: "lease_lost")
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
}
