import ScribeFlows
import ScribePostgres
import ScribeQueue
import ScribeStore

extension Stores {
    /// The queue over these stores' database, as workers and the API build it.
    public var queue: JobQueue { JobQueue(database: database, logger: TestDatabase.logger) }
    /// The file flow over these stores, as the API builds it.
    public var files: FileFlow { FileFlow(stores: self, queue: queue) }
}
