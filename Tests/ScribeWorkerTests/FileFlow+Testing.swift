import ScribeQueue
import ScribePostgres
import ScribeStore
import ScribeFlows
import ScribeTestSupport
import ScribeWorker

extension Store {
    /// The queue over this store's database, as workers and the API build it.
    var queue: JobQueue { JobQueue(database: database, logger: TestDatabase.logger) }
    /// The file flow over this store, as the API builds it.
    var files: FileFlow { FileFlow(store: self, queue: queue) }
}
