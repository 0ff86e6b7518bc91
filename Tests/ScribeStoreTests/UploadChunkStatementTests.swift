import Foundation
import NIOCore
import PostgresNIO
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Synchronization
import Testing

/// The chunks of uploaded files on their own: read back in order, gone with
/// their upload's answer or conversation, and, when no upload was ever
/// committed for them, deleted by the sweeper.
@Suite struct UploadChunkStatementTests {
    static func count(_ stores: Stores, _ uploadID: UUID) async throws -> Int {
        try await stores.database.withConnection { connection in
            for try await n in try await connection.query("SELECT count(*) FROM upload_chunks WHERE upload_id = \(uploadID)", logger: TestDatabase.logger).decode(Int.self) {
                return n
            }
            return -1
        }
    }

    /// Stages `parts` as the chunks of a new upload id.
    static func stage(_ parts: [String], _ stores: Stores) async throws -> UUID {
        let id = UUID.v7()
        // Written out of order, as concurrent requests may: read back by position.
        for (position, part) in parts.enumerated().reversed() {
            try await stores.uploadChunks.append(uploadID: id, position: position, bytes: ByteBuffer(string: part))
        }
        return id
    }

    @Test func chunksAreReadBackInOrderOneAtATime() async throws {
        try await TestDatabase.withStores { stores in
            let id = try await Self.stage(["one ", "two ", "three"], stores)
            let read = LockedText()
            let count = try await stores.uploadChunks.forEachChunk(uploadID: id) { chunk in read.append(String(buffer: chunk)) }
            #expect(count == 3 && read.text == "one two three")
            try await stores.uploadChunks.append(uploadID: id, position: 1, bytes: ByteBuffer(string: "2 "))
            read.reset()
            try await stores.uploadChunks.forEachChunk(uploadID: id) { chunk in read.append(String(buffer: chunk)) }
            #expect(read.text == "one 2 three", "a chunk written again replaces the first")
            #expect(try await stores.uploadChunks.discard(uploadIDs: [id]) == 3)
            #expect(try await Self.count(stores, id) == 0)
        }
    }

    @Test func chunksOfNoUploadArePrunedAndAnUploadsAreKept() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await UploadStatementTests.fixture(stores)
            let orphan = try await Self.stage(["cut off"], stores)
            let staged = try await Self.stage(["kept"], stores)
            let file = NewUpload(filename: "a.txt", contentType: "text/plain", stagedAs: staged, size: 4, chunkCount: 1, whole: nil)
            try await stores.database.transaction { connection in
                _ = try await stores.uploads.insertUpload(
                    id: staged, userID: fixture.user.id, conversationID: fixture.conversation.id, caption: nil, file: file,
                    idempotencyKey: nil, requestPosition: 0, knownText: nil, ocrJobID: UUID.v7(), answerJobID: nil, on: connection
                )
            }
            #expect(try await stores.uploads.upload(id: staged)?.chunkCount == 1)
            #expect(try await stores.uploadChunks.pruneOrphans(olderThan: .seconds(3600)) == 0, "too young to be an orphan")
            #expect(try await stores.uploadChunks.pruneOrphans(olderThan: .zero) >= 1)
            #expect(try await Self.count(stores, orphan) == 0)
            #expect(try await Self.count(stores, staged) == 1, "a committed upload's chunks stay")

            // Gone with the conversation.
            #expect(try await stores.conversations.deleteConversation(id: fixture.conversation.id, userID: fixture.user.id, origin: .commandLine))
            #expect(try await Self.count(stores, staged) == 0)
        }
    }

    @Test func anAnswerDropsTheChunksWithTheBytes() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await UploadStatementTests.fixture(stores)
            let staged = try await Self.stage(["page"], stores)
            let file = NewUpload(filename: "a.txt", contentType: "text/plain", stagedAs: staged, size: 4, chunkCount: 1, whole: nil)
            let question = try await stores.database.transaction { connection in
                try await stores.uploads.insertUpload(
                    id: staged, userID: fixture.user.id, conversationID: fixture.conversation.id, caption: nil, file: file,
                    idempotencyKey: nil, requestPosition: 0, knownText: nil, ocrJobID: UUID.v7(), answerJobID: nil, on: connection
                )
            }
            try await stores.database.transaction { connection in
                try await stores.uploads.writeAnswer(to: question, uploadID: staged, answer: "ok", metadata: MessageMetadata(), dropPayload: true, on: connection)
            }
            #expect(try await Self.count(stores, staged) == 0)
            #expect(try await stores.uploads.upload(id: staged)?.chunkCount == nil)
        }
    }
}

/// Text appended from a `@Sendable` closure.
final class LockedText: Sendable {
    private let value = Mutex("")
    var text: String { value.withLock { $0 } }
    func reset() { value.withLock { $0 = "" } }
    func append(_ part: String) { value.withLock { $0 += part } }
}
