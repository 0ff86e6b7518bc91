import Logging
import ScribeFlows
import ScribePostgres
import ScribeStore
import ServiceLifecycle

/// Indexes the passages of documents read before passages existed (or by a
/// worker of an older version during a rolling deploy): a few uploads at a
/// time, each locked with `SKIP LOCKED` so any number of workers share the
/// work, its passages and its mark written in one transaction. Runs beside
/// the queue worker until shutdown, looking again every five minutes once
/// there is nothing left.
///
/// A document read page by page gets each page's passages; a one-page one
/// its whole text as page 1; an older multi-page one, whose page breaks
/// were not kept, its whole text with no page (its sources show no page).
public struct PassageBackfill: Service {
    let database: Database
    let passages: PassageStore
    let logger: Logger
    /// The uploads indexed per transaction.
    var batchSize = 10

    public init(database: Database, passages: PassageStore, logger: Logger) {
        self.database = database
        self.passages = passages
        self.logger = logger
    }

    public func run() async throws {
        var failing = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            var indexed = 0
            do {
                // A batch waiting on a database that went away must not hold up a shutdown:
                // it is rolled back, and the next worker does it again.
                indexed = try await cancelWhenGracefulShutdown { try await indexBatch() }
                if indexed > 0 { logger.info("indexed the passages of earlier documents", metadata: ["uploads": "\(indexed)"]) }
                failing = false
            } catch {
                if !failing { logger.warning("could not index earlier documents; retrying", metadata: ["error": "\(error)"]) }
                failing = true
            }
            if indexed < batchSize {
                let pause: Duration = failing ? .seconds(10) : .seconds(300)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            }
        }
    }

    /// Indexes up to ``batchSize`` unindexed uploads in one transaction; returns how many.
    func indexBatch() async throws -> Int {
        try await database.transaction(timeout: database.options.timeout * 4) { [passages, batchSize] connection in
            let uploads = try await passages.lockUnindexed(limit: batchSize, on: connection)
            for upload in uploads {
                try await passages.insert(Self.passages(of: upload), uploadID: upload.id, on: connection)
                try await passages.markIndexed(uploadID: upload.id, on: connection)
            }
            return uploads.count
        }
    }

    /// What an earlier document is indexed as: its pages when it was read page by page, else its whole text.
    static func passages(of upload: UnindexedUpload) -> [NewPassage] {
        if !upload.pageTexts.isEmpty, upload.pageTexts.count == upload.pageCount {
            return upload.pageTexts.enumerated().flatMap { index, text in NewPassage.split(page: index + 1, text: text) }
        }
        return NewPassage.split(page: upload.pageCount == 1 ? 1 : nil, text: upload.text)
    }
}
