import ScribeFlows
import ScribePostgres
import ScribeQueue
import ScribeStore

extension Store {
    /// The queue over this store's database, as workers and the API build it.
    public var queue: JobQueue { JobQueue(database: database, logger: TestDatabase.logger) }
    /// The file flow over this store, as the API builds it.
    public var files: FileFlow { FileFlow(store: self, queue: queue) }
}
