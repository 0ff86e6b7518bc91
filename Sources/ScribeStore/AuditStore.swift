import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// Where an audited action came from: the client's address and the request's id.
public struct AuditOrigin: Sendable, Hashable {
    public var address: String?
    public var requestID: String?

    public init(address: String?, requestID: String?) {
        self.address = address
        self.requestID = requestID
    }

    /// An action taken on the command line (`scribe keys …`).
    public static let commandLine = AuditOrigin(address: "command-line", requestID: nil)
}

/// One entry of the audit trail: who did what, when, from where. It never
/// holds a secret: no password, token or key, not even a typed login name.
public struct AuditEvent: Sendable, Hashable {
    /// What happened.
    public struct Action: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let userRegistered = Action(rawValue: "user.registered")
        public static let loginSucceeded = Action(rawValue: "login.succeeded")
        public static let loginFailed = Action(rawValue: "login.failed")
        /// A failure that started a lockout (the refused tries during it are not recorded).
        public static let loginThrottled = Action(rawValue: "login.throttled")
        public static let keyCreated = Action(rawValue: "key.created")
        /// Recorded at most once a minute per key.
        public static let keyUsed = Action(rawValue: "key.used")
        public static let keyRevoked = Action(rawValue: "key.revoked")
        public static let conversationDeleted = Action(rawValue: "conversation.deleted")
    }

    public var id: UUID
    public var at: Date
    public var action: Action
    public var userID: UUID?
    public var serviceKeyID: UUID?
    public var origin: AuditOrigin
    /// Ids and names that say what was acted on (never secrets).
    public var detail: [String: String]

    public init(
        action: Action,
        userID: UUID? = nil,
        serviceKeyID: UUID? = nil,
        origin: AuditOrigin,
        detail: [String: String] = [:],
        id: UUID = .v7(),
        at: Date = Date()
    ) {
        self.id = id
        self.at = at
        self.action = action
        self.userID = userID
        self.serviceKeyID = serviceKeyID
        self.origin = origin
        self.detail = detail
    }

    static let columns = "id, at, action, user_id, service_key_id, address, request_id, detail::text"
    typealias Row = (UUID, Date, String, UUID?, UUID?, String?, String?, String)

    init(row: Row) {
        self.init(
            action: Action(rawValue: row.2),
            userID: row.3,
            serviceKeyID: row.4,
            origin: AuditOrigin(address: row.5, requestID: row.6),
            detail: JSONColumn.decode([String: String].self, from: row.7, default: [:]),
            id: row.0,
            at: row.1
        )
    }
}

/// The audit trail's SQL.
public struct AuditStore: Sendable {
    let database: Database
    let logger: Logger

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }
    /// Records `event` on its own.
    public func recordAudit(_ event: AuditEvent) async throws {
        try await database.withConnection { connection in try await recordAudit(event, on: connection) }
    }

    /// Records `event` on the caller's connection (inside its transaction, so
    /// the record and the action commit together).
    public func recordAudit(_ event: AuditEvent, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO audit_events (id, action, user_id, service_key_id, address, request_id, detail)
            VALUES (\(event.id), \(event.action.rawValue), \(event.userID), \(event.serviceKeyID),
                    \(event.origin.address), \(event.origin.requestID), \(JSONColumn.encode(event.detail))::jsonb)
            """,
            logger: logger
        )
    }

    /// The newest `limit` events, newest first; only `action`'s when given.
    public func auditEvents(action: AuditEvent.Action? = nil, limit: Int = 100) async throws -> [AuditEvent] {
        try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: AuditEvent.columns) FROM audit_events
                WHERE \(action?.rawValue)::text IS NULL OR action = \(action?.rawValue)
                ORDER BY at DESC, id DESC LIMIT \(limit)
                """,
                logger: logger
            )
            var events: [AuditEvent] = []
            for try await row in rows.decode(AuditEvent.Row.self) { events.append(AuditEvent(row: row)) }
            return events
        }
    }

    /// Deletes the events older than `retention` (nil: keeps them for ever); returns how many.
    public func prune(olderThan retention: Duration?) async throws -> Int {
        guard let retention else { return 0 }
        return try await database.withConnection { connection in
            try await connection.query(
                "DELETE FROM audit_events WHERE at < now() - make_interval(secs => \(retention / .seconds(1))) RETURNING 1",
                logger: logger
            ).collect().count
        }
    }
}
