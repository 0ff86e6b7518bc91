import ScribePostgres
import ScribeTestSupport
import Synchronization
import Testing

/// The pool's metrics follow its leases: connections in use, uses waiting
/// for one, and how long each waited.
@Suite struct PoolMetricsTests {
    /// Holds the uses that wait on it until it is opened.
    final class Latch: Sendable {
        private let opened = Atomic(false)
        func open() { opened.store(true, ordering: .relaxed) }
        func wait() async throws {
            while !opened.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    @Test func inUseAndWaitingFollowTheLeasesAndEveryWaitIsTimed() async throws {
        let metrics = TestMetrics()
        let options = Database.Options(timeout: .seconds(30), poolSize: 2)
        try await Database.withRunning(try await TestDatabase.shared(), options: options, logger: TestDatabase.logger, metricsFactory: metrics.factory) {
            database in
            let latch = Latch()
            try await withThrowingTaskGroup(of: Void.self) { uses in
                // Three uses of a pool of two: two hold a connection, one waits for it.
                for _ in 0..<3 {
                    uses.addTask { try await database.withConnection { _ in try await latch.wait() } }
                }
                try await metrics.waitUntil {
                    $0.value("scribe_db_pool_connections_in_use") == 2 && $0.value("scribe_db_pool_waiting") == 1
                }
                try await Task.sleep(for: .milliseconds(100))
                latch.open()
                try await uses.waitForAll()
            }
            let samples = try await metrics.waitUntil { $0.value("scribe_db_pool_connections_in_use") == 0 }
            #expect(samples.value("scribe_db_pool_waiting") == 0)
            #expect(samples.value("scribe_db_pool_wait_seconds_count") == 3)
            #expect(samples.value("scribe_db_pool_wait_seconds_sum").map { $0 >= 0.1 } == true, "the third use waited for a connection")
            #expect(samples.value("scribe_db_pool_size") == 2)
            #expect(samples.value("scribe_db_reachable") == 1)
        }
    }
}
