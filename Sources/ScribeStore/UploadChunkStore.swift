import Foundation
import Logging
import NIOCore
import PostgresNIO
import ScribePostgres

/// The bytes of uploaded files as rows of at most ``chunkBytes``
/// (`upload_chunks`), written by the API as a request arrives and read back
/// by the worker one at a time, so neither holds a whole file in memory.
public struct UploadChunkStore: Sendable {
    let database: Database
    let logger: Logger

    /// The most bytes one chunk holds: 1 MiB.
    public static let chunkBytes = 1 << 20

    /// A store over `database` (running, in a service group); each method is one bounded use of it.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Stores chunk `position` (from 0) of upload `uploadID`; written again, it is replaced.
    ///
    /// Its commit does not wait for the disk (`synchronous_commit` off, for
    /// this statement alone): the transaction that commits the upload's row
    /// does, and flushing the log for it flushes every chunk written before.
    /// A crash before that loses only chunks of an upload never committed.
    public func append(uploadID: UUID, position: Int, bytes: ByteBuffer) async throws {
        _ = try await database.withConnection { connection in
            try await connection.query(
                """
                WITH asynchronous AS (SELECT set_config('synchronous_commit', 'off', true))
                INSERT INTO upload_chunks (upload_id, position, bytes)
                SELECT \(uploadID), \(position), \(bytes) FROM asynchronous
                ON CONFLICT (upload_id, position) DO UPDATE SET bytes = excluded.bytes
                """,
                logger: logger
            )
        }
    }

    /// Deletes the chunks of `uploadIDs`: what a request that was cut off or
    /// refused leaves behind. Returns how many.
    @discardableResult
    public func discard(uploadIDs: [UUID]) async throws -> Int {
        guard !uploadIDs.isEmpty else { return 0 }
        return try await database.withConnection { connection in
            try await connection.query("DELETE FROM upload_chunks WHERE upload_id = ANY(\(uploadIDs)) RETURNING 1", logger: logger).collect().count
        }
    }

    /// Hands the chunks of `uploadID` to `body` in order, one at a time, from
    /// one query read as it streams in; returns how many there were. A file of
    /// hundreds of megabytes takes a while, so this gets twenty times the
    /// database's timeout.
    @discardableResult
    public func forEachChunk(uploadID: UUID, _ body: @escaping @Sendable (ByteBuffer) async throws -> Void) async throws -> Int {
        try await database.withConnection(timeout: database.options.timeout * 20) { connection in
            let rows = try await connection.query(
                "SELECT bytes FROM upload_chunks WHERE upload_id = \(uploadID) ORDER BY position",
                logger: logger
            )
            var count = 0
            for try await chunk in rows.decode(ByteBuffer.self) {
                try await body(chunk)
                count += 1
            }
            return count
        }
    }

    /// Deletes up to 1000 chunks older than `age` that belong to no upload
    /// (their request died before it committed); returns how many.
    public func pruneOrphans(olderThan age: Duration) async throws -> Int {
        try await database.withConnection { connection in
            try await connection.query(
                """
                DELETE FROM upload_chunks WHERE (upload_id, position) IN (
                    SELECT c.upload_id, c.position FROM upload_chunks c
                    WHERE c.created_at < now() - make_interval(secs => \(age / .seconds(1)))
                      AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.id = c.upload_id)
                    LIMIT 1000
                )
                RETURNING 1
                """,
                logger: logger
            ).collect().count
        }
    }
}
