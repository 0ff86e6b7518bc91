import Foundation
import PostgresNIO
import ScribeTestSupport
import Testing

@testable import ScribePostgres

/// The database's deadline, its outage monitor and its fresh pool after an
/// outage, against a real Postgres (the shared one, or a private cluster that
/// the test crashes).
@Suite struct DatabaseTests {
    static let logger = TestDatabase.logger

    static func elapsed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
        let start = ContinuousClock.now
        let value = try await body()
        return (value, ContinuousClock.now - start)
    }

    static func isUnavailable(_ error: any Error) -> Bool {
        (error as? DatabaseError)?.code == .unavailable
    }

    /// The postgres-nio behaviour the deadline exists for: a statement sent on
    /// a connection that has just closed is never answered, neither with rows
    /// nor with an error. (When this starts failing, postgres-nio answers such
    /// statements now; keep the deadline all the same.)
    @Test func postgresNIONeverAnswersAStatementOnAClosedConnection() async throws {
        let url = try TestDatabase.serverURL
        let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration, id: 1, logger: Self.logger)
        try await connection.close()
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.seconds(1)) {
                _ = try await connection.query("SELECT 1", logger: Self.logger)
            }
        }
    }

    /// `SELECT 1` with a patient deadline: the checks around the use under test.
    static func select(_ database: Database) async throws -> Int {
        try await database.withConnection(timeout: .seconds(30)) { connection in
            try await connection.query("SELECT 1", logger: Self.logger).collect().count
        }
    }

    /// A database on the shared server with a 1 s deadline, its pool warmed
    /// with one patient `SELECT 1`, so only the use under test meets the deadline.
    static func withWarmDatabase(_ body: (Database) async throws -> Void) async throws {
        try await Database.withRunning(try await TestDatabase.shared(), options: .init(timeout: .seconds(1)), logger: Self.logger) { database in
            let warm = try await select(database)
            #expect(warm == 1)
            try await body(database)
        }
    }

    /// How long `use` took to fail with `.unavailable` (an expectation fails when it did otherwise).
    static func timeToUnavailable(_ use: @escaping @Sendable (PostgresConnection) async throws -> Void, on database: Database) async -> Duration {
        let (_, elapsed) = await elapsed {
            await #expect(performing: { try await database.withConnection(use) }, throws: isUnavailable)
        }
        return elapsed
    }

    @Test func aUseWhoseConnectionClosesUnderItIsAnsweredByTheDeadline() async throws {
        try await Self.withWarmDatabase { database in
            let elapsed = await Self.timeToUnavailable({ connection in
                try await connection.close()
                _ = try await connection.query("SELECT 1", logger: Self.logger).collect()
            }, on: database)
            // Without the deadline this never returns; the bound only says "it did".
            #expect(elapsed < .seconds(10), "answered by the deadline, not left hanging: \(elapsed)")
            // The pool lends a working connection next.
            let next = try await Self.select(database)
            #expect(next == 1)
        }
    }

    @Test func aSlowStatementIsCutAtTheDeadlineAndTheDatabaseStaysUsable() async throws {
        try await Self.withWarmDatabase { database in
            let elapsed = await Self.timeToUnavailable({ connection in
                _ = try await connection.query("SELECT pg_sleep(60)", logger: Self.logger).collect()
            }, on: database)
            #expect(elapsed < .seconds(20), "cut at the deadline, not after the minute asked: \(elapsed)")
            let next = try await Self.select(database)
            #expect(next == 1)
            #expect(database.isReachable, "a slow statement is not an outage")
        }
    }

    @Test func aStatementErrorIsTheStatementsOwn() async throws {
        try await Database.withRunning(try await TestDatabase.shared(), options: TestDatabase.options, logger: Self.logger) { database in
            await #expect(throws: PSQLError.self) {
                try await database.withConnection { connection in
                    _ = try await connection.query("SELECT * FROM no_such_table", logger: Self.logger).collect()
                }
            }
            #expect(database.isReachable)
        }
    }

    @Test func usesFailAtOnceWhileTheServerIsDownAndResumeSoonAfterItIsBack() async throws {
        let server = try await TestPostgresServer()
        do {
            let options = Database.Options(timeout: .seconds(5), poolSize: 4, probeInterval: .milliseconds(100))
            try await Database.withRunning(try DatabaseURL(server.url), options: options, logger: Self.logger) { database in
                let select = { @Sendable in
                    try await database.withConnection { try await $0.query("SELECT 1", logger: Self.logger).collect().count }
                }
                #expect(try await select() == 1)
                try await server.crash()
                // The first use after the crash finds out (a closed connection, or the deadline).
                let (_, first) = await Self.elapsed { await #expect(performing: { try await select() }, throws: Self.isUnavailable) }
                #expect(first < .seconds(10), "answered, not left hanging: \(first)")
                let deadline = ContinuousClock.now + .seconds(15)
                while database.isReachable, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                #expect(!database.isReachable, "the monitor confirmed the outage")
                // From then on, at once: no connection is even tried.
                let (_, atOnce) = await Self.elapsed { await #expect(performing: { try await select() }, throws: Self.isUnavailable) }
                #expect(atOnce < .seconds(1), "failed at once, not at the 5 s deadline: \(atOnce)")

                try await Task.sleep(for: .seconds(3))
                try await server.start()
                let back = ContinuousClock.now
                var answered = false
                while !answered, ContinuousClock.now - back < .seconds(30) {
                    answered = (try? await select()) == 1
                    if !answered { try await Task.sleep(for: .milliseconds(20)) }
                }
                let recovery = ContinuousClock.now - back
                print("database back: first answer \(recovery) after the server was")
                #expect(answered)
                #expect(recovery < .seconds(10), "a fresh pool, not the old one's backoff: \(recovery)")
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}

/// The deadline on its own: an answer in time, an error when late, and
/// prompt cancellation.
@Suite struct DeadlineTests {
    @Test func answersWithTheResultInTime() async throws {
        #expect(try await withDeadline(.seconds(10)) { 42 } == 42)
    }

    @Test func answersLateWorkWithDeadlineExceededAndCancelsIt() async throws {
        let start = ContinuousClock.now
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(100)) { try await Task.sleep(for: .seconds(10)) }
        }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func disarmedWorkMayRunPastTheDeadline() async throws {
        // The deadline must not pass before the work starts and disarms it:
        // on a loaded 2-core CI box a new task can wait well over 100 ms.
        let value = try await withDeadline(.seconds(2)) { disarm in
            disarm()
            try await Task.sleep(for: .milliseconds(2_500))
            return "done"
        }
        #expect(value == "done")
    }

    @Test func anAbortAnswersEveryUseInFlightAtOnce() async throws {
        struct Gone: Error {}
        let uses = InFlightUses()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    await #expect(throws: Gone.self) {
                        try await withDeadline(.seconds(30), abortable: uses) { try await Task.sleep(for: .seconds(30)) }
                    }
                }
            }
            // Every use has registered (a loaded machine may start them late).
            while uses.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
            uses.abortAll(with: Gone())
            try await group.waitForAll()
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        // Finished uses leave the registry: a later abort touches nothing.
        #expect(try await withDeadline(.seconds(10), abortable: uses) { 7 } == 7)
        #expect(uses.count == 0)
    }

    @Test func theCallersCancellationAnswersAtOnce() async throws {
        let start = ContinuousClock.now
        let task = Task { try await withDeadline(.seconds(30)) { try await Task.sleep(for: .seconds(30)) } }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ContinuousClock.now - start < .seconds(5))
    }
}
