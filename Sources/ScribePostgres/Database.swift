import Logging
import Metrics
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization
import _ConnectionPoolModule

/// Scribe's PostgreSQL as every process uses it: a connection pool whose every
/// use has a deadline, that knows when the server cannot be reached, and that
/// starts afresh when the server is back.
///
/// postgres-nio's pool alone does not survive an outage well: while it cannot
/// connect, callers wait in its queue without limit, and it retries with a
/// backoff that grows to a minute, so it comes back long after the server
/// does. Around it:
///
/// - Every use waits at most ``Options/timeout`` for a connection, its
///   statements and its rows. postgres-nio cannot cancel a statement in
///   flight, so at the deadline the connection is closed (the pool opens
///   another), and the caller is answered at once whatever the connection does.
/// - A use that fails for want of the server, or the monitor's own idle
///   connection closing, makes the monitor try a fresh connection. When that fails too, the database is *unreachable*: the uses
///   in flight and every new one fail at once with
///   ``DatabaseError/Code/unavailable`` instead of queueing, and the monitor
///   tries again every ``Options/probeInterval``.
/// - When a fresh connection succeeds again, a new pool replaces the old one
///   (whose backoff may be long), and uses go through it from then on.
///
/// Run it as a service; it lives as long as the service group that runs it.
public final class Database: Service, Sendable {
    /// How the database is used.
    public struct Options: Sendable {
        /// The longest one use may take, from asking for a connection to the
        /// last row (`DATABASE_TIMEOUT_MS`).
        public var timeout: Duration
        /// Connections per process (`DATABASE_POOL_SIZE`).
        public var poolSize: Int
        /// While the server is unreachable, how often a fresh connection is tried.
        public var probeInterval: Duration
        /// How long the monitor's fresh connection may take to open and answer
        /// before the server counts as unreachable. Longer than a use's
        /// deadline by default: on a busy machine a new backend can take over a
        /// second to start, and a false outage fails every use for a while.
        public var probeTimeout: Duration

        /// `probeTimeout` defaults to the longer of `timeout` and 5 s.
        public init(
            timeout: Duration = .seconds(3),
            poolSize: Int = 20,
            probeInterval: Duration = .milliseconds(250),
            probeTimeout: Duration? = nil
        ) {
            self.timeout = timeout
            self.poolSize = poolSize
            self.probeInterval = probeInterval
            self.probeTimeout = probeTimeout ?? max(timeout, .seconds(5))
        }
    }

    /// Where the server is.
    public let url: DatabaseURL
    /// How it is used.
    public let options: Options
    let logger: Logger

    private struct State {
        var pool: PostgresClient
        var reachable = true
    }

    private enum Command: Sendable {
        case replacePool(PostgresClient)
    }

    private let state: Mutex<State>
    private let suspicions: AsyncStream<Void>
    private let suspect: AsyncStream<Void>.Continuation
    private let commands: AsyncStream<Command>
    private let commander: AsyncStream<Command>.Continuation
    private let started = Atomic(false)
    /// The uses in flight: answered at once when the database is found unreachable.
    private let inFlight = InFlightUses()
    private let sentinel = Sentinel()
    private let metrics: PoolMetrics

    /// Creates the database's pool; it connects once ``run()`` runs.
    ///
    /// - Parameter metricsFactory: Where the pool's metrics go (``PoolMetrics``
    ///   lists them); the process's bootstrapped backend unless a test passes its own.
    public init(url: DatabaseURL, options: Options = Options(), logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.url = url
        self.options = options
        self.logger = logger
        self.metrics = PoolMetrics(poolSize: options.poolSize, factory: metricsFactory)
        (suspicions, suspect) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (commands, commander) = AsyncStream.makeStream(of: Command.self)
        state = Mutex(State(pool: Self.makePool(url: url, options: options, logger: logger)))
    }

    /// The pool uses go through now. Prefer ``withConnection(timeout:_:)``,
    /// which bounds the use and knows about outages.
    public var client: PostgresClient { state.withLock { $0.pool } }

    /// False while the server cannot be reached (between a failed use and a
    /// successful fresh connection): uses fail at once then.
    public var isReachable: Bool { state.withLock { $0.reachable } }

    /// Runs the pool and the outage monitor until graceful shutdown or cancellation.
    public func run() async {
        precondition(!started.exchange(true, ordering: .relaxed), "Database.run() may be called only once")
        await withDiscardingTaskGroup { group in
            var retireCurrent = Self.start(client, in: &group)
            group.addTask { await self.monitor() }
            await withGracefulShutdownHandler {
                for await command in commands {
                    switch command {
                    case .replacePool(let fresh):
                        let retireOld = retireCurrent
                        retireCurrent = Self.start(fresh, in: &group)
                        state.withLock { state in
                            state.pool = fresh
                            state.reachable = true
                        }
                        metrics.reachable.record(1)
                        // Closes the old pool's connections and fails whatever still waits in its queue.
                        retireOld.finish()
                    }
                }
            } onGracefulShutdown: {
                self.commander.finish()
            }
            retireCurrent.finish()
            suspect.finish()
            group.cancelAll()
        }
    }

    /// Runs `pool` in a child task of `group` until the returned continuation is finished.
    private static func start(_ pool: PostgresClient, in group: inout DiscardingTaskGroup) -> AsyncStream<Never>.Continuation {
        let (retirement, retire) = AsyncStream.makeStream(of: Never.self)
        group.addTask {
            await withDiscardingTaskGroup { poolGroup in
                poolGroup.addTask { await pool.run() }
                for await _ in retirement {}
                poolGroup.cancelAll()
            }
        }
        return retire
    }

    private static func makePool(url: DatabaseURL, options: Options, logger: Logger) -> PostgresClient {
        var configuration = url.configuration
        configuration.options.maximumConnections = options.poolSize
        configuration.options.connectTimeout = options.timeout
        // The server's side of the deadline: a statement whose caller gave up
        // (and closed its connection) stops by itself soon after instead of
        // running on, and a transaction whose client vanished mid-way (a
        // network partition) does not hold its locks for ever.
        let timeoutMilliseconds = TimeAmount(options.timeout).nanoseconds / 1_000_000
        configuration.options.additionalStartupParameters = [
            // The longest use is an upload's bytes read back: ten times the timeout.
            ("statement_timeout", "\(10 * timeoutMilliseconds)"),
            ("idle_in_transaction_session_timeout", "60000"),
        ]
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    // MARK: Uses

    /// Answers whether the server takes a trivial query within `timeout`: what `/ready` reports.
    public func ping(timeout: Duration? = nil) async throws {
        let logger = logger
        try await withConnection(timeout: timeout) { connection in
            _ = try await connection.query("SELECT 1", logger: logger).collect()
        }
    }

    /// Leases a connection for `body`, all of it within `timeout` (default
    /// ``Options/timeout``).
    ///
    /// Throws ``DatabaseError`` `.unavailable` at once while the database is
    /// unreachable, and when the server cannot be reached or does not answer
    /// in time; any other error is `body`'s own. At the deadline the
    /// connection is closed (the server stops the statement by its own
    /// `statement_timeout`, or when it next writes to the closed socket).
    public func withConnection<Result: Sendable>(
        timeout: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await lease(timeout: timeout ?? options.timeout) { connection, _ in try await body(connection) }
    }

    /// Runs `body` in a transaction (COMMIT on return, ROLLBACK on throw) on
    /// a leased connection, bounded like ``withConnection(timeout:_:)``, and
    /// rethrows the body's own error rather than postgres-nio's wrapper, so
    /// callers can catch ``DatabaseError`` and `PSQLError` as they are.
    public func transaction<Result: Sendable>(
        timeout: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = logger
        do {
            return try await withConnection(timeout: timeout) { connection in
                try await connection.withTransaction(logger: logger) { connection in try await body(connection) }
            }
        } catch let error as PostgresTransactionError {
            if let rollbackError = error.rollbackError {
                logger.warning("rollback failed", metadata: ["error": "\(String(reflecting: rollbackError))"])
            }
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }

    /// Leases a connection for a long-lived `body` (a `LISTEN`): leasing it
    /// and what `body` does before calling `started()` are bounded by
    /// ``Options/timeout``; what it does after is not.
    public func withLongLivedConnection<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection, _ started: @escaping @Sendable () -> Void) async throws -> Result
    ) async throws -> Result {
        try await lease(timeout: options.timeout, body)
    }

    /// Both of the above: a bounded, abortable lease of a pool connection.
    private func lease<Result: Sendable>(
        timeout: Duration,
        _ body: @escaping @Sendable (PostgresConnection, _ disarm: @escaping @Sendable () -> Void) async throws -> Result
    ) async throws -> Result {
        let pool = try usablePool()
        let metrics = metrics
        do {
            return try await withDeadline(timeout, abortable: inFlight) { disarm in
                // Counted in the work itself, which may outlive a caller answered at its deadline.
                metrics.waitStarted()
                let asked = ContinuousClock.now
                var leased = false
                defer { if !leased { metrics.waitAbandoned() } }
                return try await pool.withConnection { connection in
                    leased = true
                    metrics.leased(after: ContinuousClock.now - asked)
                    defer { metrics.released() }
                    return try await Self.closingOnCancel(connection) { try await body(connection, disarm) }
                }
            }
        } catch {
            throw reportFailure(error)
        }
    }

    /// Runs `body` on `connection`, closing the connection when the task is
    /// cancelled: postgres-nio has no way to cancel a statement in flight, and
    /// closing the connection is what ends the wait for it.
    private static func closingOnCancel<Result: Sendable>(
        _ connection: PostgresConnection,
        _ body: () async throws -> Result
    ) async throws -> Result {
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(
                try await withTaskCancellationHandler {
                    try await body()
                } onCancel: {
                    let _: EventLoopFuture<Void> = connection.close()
                }
            )
        } catch {
            outcome = .failure(error)
        }
        if Task.isCancelled {
            // The connection is closing (even if `body` finished first): hand the
            // lease back only once the pool has seen it close, or the pool could
            // lend the closing connection to the next caller, whose statement
            // would then never be answered.
            try? await connection.closeFuture.get()
        }
        return try outcome.get()
    }

    private func usablePool() throws(DatabaseError) -> PostgresClient {
        let (pool, reachable) = state.withLock { ($0.pool, $0.reachable) }
        guard reachable else { throw .unavailable }
        return pool
    }

    /// Maps an error to `.unavailable` when it means the server is out of
    /// reach, and asks the monitor to check.
    private func reportFailure(_ error: any Error) -> any Error {
        guard Self.meansUnavailable(error) else { return error }
        suspect.yield()
        if let error = error as? DatabaseError { return error }
        return DatabaseError(.unavailable, "The database is not reachable right now (\(Self.cause(of: error))).")
    }

    /// A few words on why a use failed, safe to log (no statement, no data).
    static func cause(of error: any Error) -> String {
        switch error {
        case let error as DeadlineExceeded: "\(error)"
        case let error as PSQLError: error.serverInfo?[.sqlState].map { "server said \($0)" } ?? "\(error.code)"
        case let error as PostgresTransactionError:
            (error.closureError ?? error.beginError ?? error.commitError).map(cause(of:)) ?? "transaction failed"
        case let error as DatabaseError: error.reason
        default: "\(type(of: error)): \(error)"
        }
    }

    /// True for the errors that say the server could not be reached or did
    /// not answer: not for errors in the statement itself.
    static func meansUnavailable(_ error: any Error) -> Bool {
        switch error {
        case is DeadlineExceeded, is ConnectionPoolError, is ChannelError, is IOError:
            return true
        case let error as DatabaseError:
            return error.code == .unavailable
        case let error as PostgresTransactionError:
            return [error.closureError, error.beginError, error.commitError].contains { $0.map(meansUnavailable) ?? false }
        case let error as PSQLError:
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .queryCancelled:
                return true
            case .server:
                // Class 08: connection exception; 57P01-57P03: the server is shutting
                // down, crashed or is starting. (Not 53300, too many connections: the
                // server answers, and the pool's own connections still work.)
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
            default:
                return false
            }
        default:
            return false
        }
    }

    // MARK: The monitor

    /// Waits for a sign of trouble (a use that failed for want of the server,
    /// or the sentinel closing), confirms the server is unreachable with a
    /// fresh connection, and once a fresh connection succeeds again puts a new
    /// pool in place.
    private func monitor() async {
        suspect.yield()
        for await _ in suspicions {
            switch await probe() {
            case .answered, .refused: continue
            case .unreachable: break
            }
            guard !Task.isCancelled else { break }
            let since = ContinuousClock.now
            state.withLock { $0.reachable = false }
            metrics.reachable.record(0)
            // The uses still waiting (most in the pool's queue for a connection
            // that will not come) are answered now, not at their deadlines.
            inFlight.abortAll(with: DatabaseError.unavailable)
            logger.error("database unreachable; answering every use at once with 503 until it is back")
            while !Task.isCancelled {
                try? await Task.sleep(for: options.probeInterval)
                if await probe() != .unreachable { break }
            }
            guard !Task.isCancelled else { break }
            logger.notice("database reachable again; starting a fresh pool", metadata: ["unreachable_for": "\(ContinuousClock.now - since)"])
            commander.yield(.replacePool(Self.makePool(url: url, options: options, logger: logger)))
        }
        await sentinel.close()
    }

    private enum ProbeOutcome {
        /// A fresh connection opened and answered `SELECT 1`.
        case answered
        /// The server answered, with an error of its own (no connection slot
        /// left, say): it is there, though this connection was refused.
        case refused
        /// The server could not be reached, or did not answer in time.
        case unreachable
    }

    /// Opens a fresh connection and checks that it answers, within
    /// ``Options/probeTimeout``. The connection becomes the sentinel when there is none open,
    /// and is closed otherwise.
    private func probe() async -> ProbeOutcome {
        let logger = logger
        let sentinel = sentinel
        let suspect = suspect
        do {
            var configuration = try url.connectionConfiguration
            configuration.options.connectTimeout = TimeAmount(options.probeTimeout)
            let probeConfiguration = configuration
            try await withDeadline(options.probeTimeout) {
                let connection = try await PostgresConnection.connect(configuration: probeConfiguration, id: 0, logger: logger)
                do {
                    try await connection.query("SELECT 1", logger: logger)
                } catch {
                    try? await connection.close()
                    throw error
                }
                if !sentinel.keep(connection, onClose: { suspect.yield() }) {
                    try? await connection.close()
                }
            }
            return .answered
        } catch {
            logger.debug("database probe failed", metadata: ["error": "\(Self.cause(of: error))"])
            return Self.meansUnavailable(error) ? .unreachable : .refused
        }
    }
}

/// A connection of the monitor's own, held open and idle: when the server goes
/// away it closes at once, which starts a check even while no use is in flight
/// (and before the uses queued for a connection reach their deadlines).
final class Sentinel: Sendable {
    private struct State {
        var connection: PostgresConnection?
        /// After ``close()`` no connection is kept (a late probe closes its own).
        var closed = false
    }

    private let state = Mutex(State())

    /// Keeps `candidate` as the sentinel, calling `onClose` when it closes,
    /// unless one is open already (or the sentinel was closed for good): then
    /// false, and the caller closes `candidate`.
    func keep(_ candidate: PostgresConnection, onClose: @escaping @Sendable () -> Void) -> Bool {
        let kept = state.withLock { state -> Bool in
            if state.closed { return false }
            if let current = state.connection, !current.isClosed { return false }
            state.connection = candidate
            return true
        }
        if kept { candidate.closeFuture.whenComplete { _ in onClose() } }
        return kept
    }

    /// Closes the sentinel for good.
    func close() async {
        let current = state.withLock { state in
            state.closed = true
            defer { state.connection = nil }
            return state.connection
        }
        try? await current?.close()
    }
}

extension Database {
    /// Runs a database for the duration of `body`: for one-shot commands and
    /// tests, where no service group owns it.
    @discardableResult
    public static func withRunning<Result: Sendable>(
        _ url: DatabaseURL,
        options: Options = Options(),
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        _ body: (Database) async throws -> Result
    ) async throws -> Result {
        let database = Database(url: url, options: options, logger: logger, metricsFactory: metricsFactory)
        return try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await database.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }
}
