import Foundation
import NIOCore
import PostgresNIO
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// The uploads' statements on their own, against the real database: an upload
/// and its message written in the caller's transaction (or not at all), the
/// stages moving the message along, the answer written once, and the bytes
/// dropped when they are no longer needed.
@Suite struct UploadStatementTests {
    struct Fixture {
        var stores: Stores
        var user: User
        var conversation: Conversation
    }

    static func fixture(_ stores: Stores) async throws -> Fixture {
        let user = try await TableStatementTests.newUser(stores)
        let conversation = try await stores.conversations.createConversation(userID: user.id, title: "Scans")
        return Fixture(stores: stores, user: user, conversation: conversation)
    }

    /// Stores one upload of `bytes` in its own transaction, as the file flow does.
    @discardableResult
    static func upload(
        _ fixture: Fixture,
        bytes: String = "the scanned page",
        idempotencyKey: String? = nil,
        knownText: (text: String, pages: [AttachmentPage])? = nil,
        filesInFlightCap: Int? = nil
    ) async throws -> (uploadID: UUID, message: Message) {
        let uploadID = UUID.v7()
        let stores = fixture.stores
        let message = try await stores.database.transaction { connection in
            try await stores.uploads.insertUpload(
                id: uploadID,
                userID: fixture.user.id,
                conversationID: fixture.conversation.id,
                caption: "What does it say?",
                file: NewUpload(filename: "page.png", contentType: "image/png", bytes: ByteBuffer(string: bytes)),
                idempotencyKey: idempotencyKey,
                requestPosition: 0,
                knownText: knownText,
                ocrJobID: knownText == nil ? UUID.v7() : nil,
                answerJobID: knownText == nil ? nil : UUID.v7(),
                filesInFlightCap: filesInFlightCap,
                on: connection
            )
        }
        return (uploadID, message)
    }

    static func page(_ number: Int) -> AttachmentPage {
        AttachmentPage(page: number, source: "ocr", rotation: 90, skew: 0.5, dpi: 300, confidence: 91, warning: nil)
    }

    @Test func anUploadAndItsQueuedMessageAreStoredTogether() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await Self.fixture(stores)
            let key = "retry-\(UUID())"
            let (uploadID, message) = try await Self.upload(fixture, bytes: "12345", idempotencyKey: key)

            #expect(message.status == .queued && message.stage == .queued && message.content == "What does it say?")
            #expect(message.attachments.map(\.size) == [5] && message.attachments.first?.filename == "page.png")
            let record = try #require(try await stores.uploads.upload(id: uploadID))
            #expect(record.messageID == message.id && record.userID == fixture.user.id && record.size == 5 && record.answeredAt == nil)
            #expect(try await stores.uploads.upload(id: uploadID, userID: fixture.user.id) == record)
            #expect(try await stores.uploads.payload(ofUpload: uploadID) == ByteBuffer(string: "12345"))
            let earlier = try #require(try await stores.uploads.uploads(userID: fixture.user.id, idempotencyKey: key))
            #expect(earlier.map(\.uploadID) == [uploadID] && earlier.map(\.messageID) == [message.id])
            #expect(try await stores.uploads.uploads(userID: fixture.user.id, idempotencyKey: "never-\(UUID())") == nil)
        }
    }

    @Test func anotherUsersUploadAndConversationAreNotFound() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await Self.fixture(stores)
            let stranger = try await TableStatementTests.newUser(stores)
            let key = "key-\(UUID())"
            let (uploadID, _) = try await Self.upload(fixture, idempotencyKey: key)

            #expect(try await stores.uploads.upload(id: uploadID, userID: stranger.id) == nil)
            #expect(try await stores.uploads.uploads(userID: stranger.id, idempotencyKey: key) == nil)
            await #expect { try await Self.upload(Fixture(stores: stores, user: stranger, conversation: fixture.conversation)) } throws: { error in
                (error as? StoreError)?.code == .notFound
            }
        }
    }

    /// One person's files in flight as the rows count them: the sum, and each row's count.
    static func filesInFlight(_ fixture: Fixture) async throws -> (sum: Int, rows: [Int]) {
        try await fixture.stores.database.withConnection { connection in
            let rows = try await connection.query(
                "SELECT files FROM files_in_flight WHERE user_id = \(fixture.user.id) ORDER BY shard", logger: TestDatabase.logger
            )
            var counts: [Int] = []
            for try await files in rows.decode(Int.self) { counts.append(files) }
            return (counts.reduce(0, +), counts)
        }
    }

    @Test func oneUsersFilesInFlightAreCountedOnTheirRowsAndCappedExactly() async throws {
        try await TestDatabase.withStores { stores in
            let rows = try await stores.database.withConnection { connection in
                try await connection.query("SELECT scribe_files_in_flight_shards()", logger: TestDatabase.logger).collect().first?.decode(Int.self)
            }
            #expect(rows == UploadStore.filesInFlightRows, "the API takes as many turns per person as the SQL has rows")
            let fixture = try await Self.fixture(stores)
            // 11 over 8 rows: shares of 2, 2, 2, 1, 1, 1, 1, 1.
            let outcomes = await withTaskGroup(of: Result<UUID, any Error>.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        do { return .success(try await Self.upload(fixture, filesInFlightCap: 11).message.id) } catch { return .failure(error) }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let accepted = outcomes.compactMap { try? $0.get() }
            #expect(accepted.count == 11)
            let refusals = outcomes.compactMap { outcome -> FilesInFlightLimitReached? in
                guard case .failure(let error) = outcome else { return nil }
                return FilesInFlightLimitReached(error, limit: 11)
            }
            #expect(refusals.count == 19, "every other upload refused by the cap, nothing else")
            #expect(refusals.allSatisfy { $0.inFlight == 12 })
            #expect(try await Self.filesInFlight(fixture) == (11, [2, 2, 2, 1, 1, 1, 1, 1]))

            // Files that land give their places back, each off a row that had one.
            for message in accepted.prefix(4) {
                try await stores.database.withConnection { connection in
                    _ = try await connection.query("UPDATE messages SET status = 'done' WHERE id = \(message)", logger: TestDatabase.logger)
                }
            }
            let afterLanding = try await Self.filesInFlight(fixture)
            #expect(afterLanding.sum == 7 && afterLanding.rows.allSatisfy { $0 >= 0 })
            // Exactly four places are free again, wherever they are.
            let again = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 {
                    group.addTask { (try? await Self.upload(fixture, filesInFlightCap: 11)) != nil }
                }
                return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(again == 4)
            #expect(try await Self.filesInFlight(fixture).sum == 11)
        }
    }

    @Test func countsOfBeforeTheRowsAreSpreadOverThemAsTheirSharesAre() async throws {
        let (_, url) = try await TestDatabase.createEmpty()
        let migrations = try Migrator.migrations(in: TestDatabase.migrationsDirectory)
        try await PostgresClient.withRunning(url.configuration, logger: TestDatabase.logger) { client in
            let migrator = Migrator(client: client, logger: TestDatabase.logger)
            try await migrator.apply(migrations.filter { $0.version < "020" })
            let (busy, lone) = (UUID.v7(), UUID.v7())
            for user in [busy, lone] {
                try await client.query("INSERT INTO users (id, email, password_hash) VALUES (\(user), \(user.uuidString + "@example.com"), 'x')")
            }
            try await client.query("INSERT INTO files_in_flight (user_id, files) VALUES (\(busy), 13), (\(lone), 1)")
            try await migrator.apply(migrations)
            var counts: [UUID: [Int]] = [:]
            let rows = try await client.query("SELECT user_id, files FROM files_in_flight ORDER BY user_id, shard")
            for try await (user, files) in rows.decode((UUID, Int).self) { counts[user, default: []].append(files) }
            #expect(counts[busy] == [2, 2, 2, 2, 2, 1, 1, 1])
            #expect(counts[lone] == [1, 0, 0, 0, 0, 0, 0, 0])
        }
    }

    @Test func aRolledBackUploadLeavesNothing() async throws {
        struct Refused: Error {}
        try await TestDatabase.withStores { stores in
            let fixture = try await Self.fixture(stores)
            let uploadID = UUID.v7()
            await #expect(throws: Refused.self) {
                try await stores.database.transaction { connection in
                    _ = try await stores.uploads.insertUpload(
                        id: uploadID, userID: fixture.user.id, conversationID: fixture.conversation.id, caption: nil,
                        file: NewUpload(filename: "a.png", contentType: "image/png", bytes: ByteBuffer(string: "x")),
                        idempotencyKey: nil, requestPosition: 0, knownText: nil, ocrJobID: UUID.v7(), answerJobID: nil, on: connection
                    )
                    throw Refused()
                }
            }
            #expect(try await stores.uploads.upload(id: uploadID) == nil)
            let history = try await stores.messages.renderedMessages(conversationID: fixture.conversation.id, userID: fixture.user.id, limit: 10, after: nil)
            #expect(history?.elements.readableBytes == 0, "no message without its upload")
        }
    }

    @Test func aFileWhoseTextIsKnownStartsAtTheAnswer() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await Self.fixture(stores)
            let pages = [AttachmentPage(page: 1, source: "plain_text", rotation: 0, skew: 0, dpi: nil, confidence: nil, warning: nil)]
            let (uploadID, message) = try await Self.upload(fixture, knownText: ("Total: 12 EUR", pages))

            #expect(message.stage == .llm && message.documentText == "Total: 12 EUR")
            #expect(message.attachments.first?.pages == 1 && message.attachments.first?.pageDetails == pages)
            #expect(try await stores.uploads.upload(id: uploadID)?.pageCount == 1)
        }
    }

    @Test func theStagesMoveTheMessageAlongAndTheAnswerIsWrittenOnce() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await Self.fixture(stores)
            let (uploadID, question) = try await Self.upload(fixture)

            try await stores.uploads.startStage(.ocr, messageID: question.id)
            try await stores.uploads.reportReadingProgress(messageID: question.id, pagesRead: 2, pageCount: 5)
            var message = try #require(try await stores.messages.message(id: question.id))
            #expect(message.status == .processing && message.stage == .ocr)
            #expect(message.attachments.first?.pagesRead == 2 && message.attachments.first?.pages == 5)

            let answerJobID = UUID.v7()
            let pages = (1...5).map(Self.page)
            try await stores.database.transaction { connection in
                try await stores.uploads.checkpointText(uploadID: uploadID, text: "five pages", pages: pages, answerJobID: answerJobID, on: connection)
            }
            message = try #require(try await stores.messages.message(id: question.id))
            #expect(message.stage == .llm && message.documentText == "five pages")
            #expect(message.attachments.first?.pageDetails == pages && message.attachments.first?.pagesRead == 5)
            #expect(try await stores.uploads.upload(id: uploadID)?.answerJobID == answerJobID)

            try await stores.uploads.startStage(.llm, messageID: question.id)
            let checkpointed = message
            try await stores.database.transaction { connection in
                try await stores.uploads.writeAnswer(
                    to: checkpointed, uploadID: uploadID, answer: "It has five pages.", metadata: MessageMetadata(), dropPayload: true, on: connection
                )
            }
            message = try #require(try await stores.messages.message(id: question.id))
            #expect(message.status == .done && message.stage == nil)
            #expect(try await stores.uploads.upload(id: uploadID)?.answeredAt != nil)
            #expect(try await stores.uploads.payload(ofUpload: uploadID) == nil, "the bytes are dropped with the answer")

            await #expect(throws: PSQLError.self, "the unique reply_to refuses a second answer") {
                try await stores.database.transaction { connection in
                    try await stores.uploads.writeAnswer(
                        to: checkpointed, uploadID: uploadID, answer: "Again.", metadata: MessageMetadata(), dropPayload: true, on: connection
                    )
                }
            }
            try await stores.uploads.startStage(.ocr, messageID: question.id)
            #expect(try await stores.messages.message(id: question.id)?.status == .done, "a stage never reopens a finished message")
        }
    }

    @Test func aFailureIsShownOnUnfinishedMessagesOnly() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await Self.fixture(stores)
            let (failingID, failing) = try await Self.upload(fixture)
            let (doneID, done) = try await Self.upload(fixture)
            try await stores.database.transaction { connection in
                try await stores.uploads.writeAnswer(to: done, uploadID: doneID, answer: "ok", metadata: MessageMetadata(), dropPayload: false, on: connection)
            }
            try await stores.database.transaction { connection in
                try await stores.uploads.setUploadMessages(
                    [
                        UploadMessageStatus(uploadID: failingID, status: .failed, error: "page.png could not be read."),
                        UploadMessageStatus(uploadID: doneID, status: .failed, error: "late"),
                    ],
                    on: connection
                )
            }
            let failed = try #require(try await stores.messages.message(id: failing.id))
            #expect(failed.status == .failed && failed.error == "page.png could not be read.")
            #expect(try await stores.messages.message(id: done.id)?.status == .done)
        }
    }

    @Test func answeredBytesAreDroppedOnlyPastTheirRetention() async throws {
        try await TestDatabase.withStores { stores in
            let fixture = try await Self.fixture(stores)
            let (keptID, kept) = try await Self.upload(fixture)
            let (oldID, old) = try await Self.upload(fixture)
            let (unansweredID, _) = try await Self.upload(fixture)
            for (id, question) in [(keptID, kept), (oldID, old)] {
                try await stores.database.transaction { connection in
                    try await stores.uploads.writeAnswer(to: question, uploadID: id, answer: "ok", metadata: MessageMetadata(), dropPayload: false, on: connection)
                }
            }
            _ = try await stores.database.withConnection { connection in
                try await connection.query("UPDATE uploads SET answered_at = now() - interval '2 hours' WHERE id = \(oldID)", logger: TestDatabase.logger)
            }

            #expect(try await stores.uploads.dropAnsweredPayloads(olderThan: .seconds(3600)) >= 1)
            #expect(try await stores.uploads.payload(ofUpload: oldID) == nil)
            #expect(try await stores.uploads.payload(ofUpload: keptID) != nil, "answered within the retention: kept")
            #expect(try await stores.uploads.payload(ofUpload: unansweredID) != nil, "not answered yet: kept")
        }
    }
}
