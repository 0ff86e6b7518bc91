import Foundation
import PostgresNIO
import ScribeTestSupport
import Testing

@testable import ScribePostgres

@Suite struct MigratorTests {
    let logger = TestDatabase.logger

    @Test func appliesEachMigrationOnceAndInOrder() async throws {
        let (_, configuration) = try await TestDatabase.createEmpty()
        let migrations = try Migrator.migrations(in: TestDatabase.migrationsDirectory)
        #expect(!migrations.isEmpty)
        #expect(migrations.map(\.version) == migrations.map(\.version).sorted())

        try await PostgresClient.withRunning(configuration, logger: logger) { (client: PostgresClient) async throws in
            let migrator = Migrator(client: client, logger: logger)
            let first = try await migrator.apply(migrations)
            #expect(first == migrations.map(\.version))
            let second = try await migrator.apply(migrations)
            #expect(second.isEmpty)
            let count = try await Self.count("SELECT count(*) FROM schema_migrations", client)
            #expect(count == migrations.count)
        }
    }

    @Test func concurrentMigratorsApplyEachVersionExactlyOnce() async throws {
        let (_, configuration) = try await TestDatabase.createEmpty()
        let migrations = try Migrator.migrations(in: TestDatabase.migrationsDirectory)
        // Four processes' worth of migrators, each with its own pool, racing.
        let applied = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await PostgresClient.withRunning(configuration, logger: logger) { (client: PostgresClient) async throws in
                        try await Migrator(client: client, logger: logger).apply(migrations)
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(applied.sorted() == migrations.map(\.version).sorted())
        try await PostgresClient.withRunning(configuration, logger: logger) { (client: PostgresClient) async throws in
            #expect(try await Self.count("SELECT count(*) FROM schema_migrations", client) == migrations.count)
            #expect(try await Self.count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'", client) == 1)
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        let (_, configuration) = try await TestDatabase.createEmpty()
        let broken = [
            Migrator.Migration(version: "001_ok", sql: "CREATE TABLE ok (id int);"),
            Migrator.Migration(version: "002_broken", sql: "CREATE TABLE half (id int); SELECT * FROM missing_table;"),
        ]
        try await PostgresClient.withRunning(configuration, logger: logger) { (client: PostgresClient) async throws in
            await #expect(throws: DatabaseError.self) { try await Migrator(client: client, logger: logger).apply(broken) }
            #expect(try await Self.count("SELECT count(*) FROM schema_migrations", client) == 1)
            #expect(try await Self.count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'", client) == 0)
        }
    }

    static func count(_ sql: String, _ client: PostgresClient) async throws -> Int {
        for try await count in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) {
            return count
        }
        return -1
    }
}
