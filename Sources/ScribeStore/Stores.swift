import Foundation
import Logging
import PostgresNIO
import ScribePostgres

/// Every store of Scribe's tables over one database: what the place that
/// builds a process (`scribe`, or a test) creates once and hands out piece by
/// piece, each part of the service getting only the stores it uses.
///
/// Each store's methods that read or change user data take the user's id and
/// check ownership in the same statement, so another user's row is simply not
/// found. Every method is one bounded use of the ``Database``: it answers
/// within the database's timeout, and throws ``DatabaseError`` when the
/// server cannot be reached or does not answer in time.
public struct Stores: Sendable {
    /// The database. It must be running (`database.run()` in a service group).
    public let database: Database
    /// Registered people.
    public let users: UserStore
    /// Conversations, each owned by one user.
    public let conversations: ConversationStore
    /// Messages: the history, chats' questions and answers.
    public let messages: MessageStore
    /// Uploaded files, their checkpoints and answers.
    public let uploads: UploadStore
    /// Uploaded files' bytes, a chunk at a time.
    public let uploadChunks: UploadChunkStore
    /// The pages of documents read page by page.
    public let uploadPages: UploadPageStore
    /// Documents' passages, indexed for retrieval.
    public let passages: PassageStore
    /// Daily request counts and the files-in-flight cap.
    public let usage: UsageStore
    /// Each conversation's event log, read by the live streams.
    public let events: EventStore
    /// The audit trail.
    public let audit: AuditStore
    /// Failed logins per account and address.
    public let loginFailures: LoginFailureStore
    /// The bots' keys.
    public let serviceKeys: ServiceKeyStore
    /// The people bots act for, and their messages.
    public let serviceChats: ServiceChatStore

    /// Creates every store over `database`, logging to `logger`.
    public init(database: Database, logger: Logger) {
        self.database = database
        users = UserStore(database: database, logger: logger)
        conversations = ConversationStore(database: database, logger: logger)
        messages = MessageStore(database: database, logger: logger)
        uploads = UploadStore(database: database, logger: logger)
        uploadPages = UploadPageStore(database: database, logger: logger)
        uploadChunks = UploadChunkStore(database: database, logger: logger)
        passages = PassageStore(database: database, logger: logger)
        usage = UsageStore(database: database, logger: logger)
        events = EventStore(database: database, logger: logger)
        audit = AuditStore(database: database, logger: logger)
        loginFailures = LoginFailureStore(database: database, logger: logger)
        serviceKeys = ServiceKeyStore(database: database, logger: logger)
        serviceChats = ServiceChatStore(database: database, logger: logger)
    }
}

/// A `jsonb` column's text, to and from our own Codable values.
enum JSONColumn {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// JSON text of `value`, for a `::jsonb` parameter.
    static func encode(_ value: some Encodable) -> String {
        // Our own Codable structs always encode.
        (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "null"
    }

    /// `text` decoded as `type`, or `value` when it is not one.
    static func decode<T: Decodable>(_ type: T.Type, from text: String, default value: T) -> T {
        (try? JSONDecoder().decode(T.self, from: Data(text.utf8))) ?? value
    }
}
