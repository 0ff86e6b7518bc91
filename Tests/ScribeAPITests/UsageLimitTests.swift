import Foundation
import Hummingbird
import ScribeAPI
import ScribeLLMTesting
import ScribeTestSupport
import Testing

/// Daily limits for web users (each chat message and each file counts) and
/// the cap on files in flight; a refused request leaves nothing behind.
@Suite struct UsageLimitTests {
    static let note = APIClient.FilePart(filename: "note.txt", contentType: "text/plain", bytes: Array("Meeting at noon.".utf8))

    @Test func chatsAndFilesCountAgainstTheDayAndARefusalStoresNothing() async throws {
        try await withAPI(limits: RequestLimits(webDailyRequests: 3)) { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            #expect(try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "one"]).status == .ok)

            let tooMany = try await api.upload(token: token, conversationID: conversation, files: [Self.note, Self.note, Self.note])
            #expect(tooMany.status == .tooManyRequests && tooMany.errorCode == "daily_limit_reached")
            #expect(tooMany.headers[.retryAfter] != nil)
            #expect(try await api.messageCount(conversationID: conversation) == 2, "the refused upload stored nothing")

            #expect(try await api.upload(token: token, conversationID: conversation, files: [Self.note, Self.note]).status == .accepted)
            let over = try await api.send(.post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "four"])
            #expect(over.status == .tooManyRequests && over.errorCode == "daily_limit_reached")
            let streamed = try await api.send(
                .post, "/v1/chat", token: token, json: ["conversation_id": conversation, "text": "four"], headers: [.accept: "text/event-stream"]
            )
            #expect(streamed.status == .tooManyRequests, "a streamed chat is refused before it starts")
            #expect(try await api.messageCount(conversationID: conversation) == 4)

            // Another user has their own day.
            let (other, _) = try await api.registerUser()
            #expect(try await api.send(.post, "/v1/chat", token: other, json: ["text": "hello"]).status == .ok)
        }
    }

    @Test func aWebChatThatCouldNotBeAnsweredIsGivenBack() async throws {
        try await FakeChatCompletionsServer.withRunning(.error(400, message: "bad request")) { server in
            try await withAPI(provider: ChatTests.client(for: server), limits: RequestLimits(webDailyRequests: 1)) { api in
                let (token, _) = try await api.registerUser()
                #expect(try await api.send(.post, "/v1/chat", token: token, json: ["text": "one"]).status == .badGateway)
                server.setDefaultBehaviour(.echo)
                #expect(try await api.send(.post, "/v1/chat", token: token, json: ["text": "one again"]).status == .ok, "the failed one was given back")
                #expect(try await api.send(.post, "/v1/chat", token: token, json: ["text": "two"]).status == .tooManyRequests)
            }
        }
    }

    @Test func filesInFlightAreCappedExactlyUnderConcurrentUploads() async throws {
        // No worker runs: every accepted file stays in flight.
        try await withAPI(limits: RequestLimits(maxFilesInFlight: 5)) { api in
            let (token, _) = try await api.registerUser()
            let conversation = try await api.createConversation(token)
            let replies = try await withThrowingTaskGroup(of: APIClient.Reply.self) { group in
                for _ in 0..<12 {
                    group.addTask { try await api.upload(token: token, conversationID: conversation, files: [Self.note]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.filter { $0.status == .accepted }.count == 5)
            let refused = replies.filter { $0.status == .tooManyRequests }
            #expect(refused.count == 7)
            #expect(refused.allSatisfy { $0.errorCode == "too_many_files_in_flight" && $0.headers[.retryAfter] != nil })
            #expect(try await api.messageCount(conversationID: conversation) == 5)

            // Someone else is not held back by this user's queue.
            let (other, _) = try await api.registerUser()
            let theirs = try await api.createConversation(other)
            #expect(try await api.upload(token: other, conversationID: theirs, files: [Self.note]).status == .accepted)
        }
    }

    @Test func aFileThatLandsOrIsDeletedGivesItsPlaceBack() async throws {
        try await withAPI(limits: RequestLimits(maxFilesInFlight: 2)) { api in
            let (token, _) = try await api.registerUser()
            let first = try await api.createConversation(token)
            let second = try await api.createConversation(token)
            func upload(_ conversation: String) async throws -> APIClient.Reply {
                try await api.upload(token: token, conversationID: conversation, files: [Self.note])
            }
            let owner = try await api.conversationOwner(first)
            func counted() async throws -> (counter: Int, actual: Int) {
                try await api.stores.database.withConnection { connection in
                    let rows = try await connection.query(
                        """
                        SELECT (SELECT coalesce(sum(files), 0)::int8 FROM files_in_flight WHERE user_id = \(owner)),
                               (SELECT count(*) FROM uploads u JOIN messages m ON m.id = u.message_id
                                WHERE u.user_id = \(owner) AND u.answered_at IS NULL AND m.status IN ('queued', 'processing'))
                        """,
                        logger: TestDatabase.logger
                    )
                    for try await pair in rows.decode((Int, Int).self) { return pair }
                    return (-1, -1)
                }
            }
            let failing = try #require(try await upload(first)["message_id"] as? String)
            #expect(try await upload(first).status == .accepted)
            #expect(try await upload(first).status == .tooManyRequests)
            // A file that fails (as a stage fails it) gives its place back.
            try await api.execute(unsafeSQL: "UPDATE messages SET status = 'failed', error = 'unreadable' WHERE id = '\(failing)'")
            #expect(try await counted() == (1, 1))
            #expect(try await upload(first).status == .accepted)
            #expect(try await upload(second).status == .tooManyRequests)
            // A conversation deleted with its files in flight gives theirs back.
            #expect(try await api.send(.delete, "/v1/conversations/\(first)", token: token).status == .noContent)
            #expect(try await counted() == (0, 0))
            #expect(try await upload(second).status == .accepted)
            #expect(try await upload(second).status == .accepted)
            #expect(try await upload(second).status == .tooManyRequests)
            #expect(try await counted() == (2, 2))
        }
    }
}

@Suite struct ServiceRecordPruningTests {
    @Test func oldCountsQuietLoginRunsAndExpiredAuditEventsArePruned() async throws {
        try await withAPI(limits: RequestLimits(botDailyRequests: 30)) { api in
            let key = try await api.createServiceKey()
            let reply = try await api.botSend(key: key, ["external_id": "prune-\(UUID())", "message": "hello"])
            let userID = try await api.conversationOwner(try #require(reply["conversation_id"] as? String))
            let marker = UUID().uuidString
            try await api.execute(
                unsafeSQL: "INSERT INTO daily_usage (user_id, day, requests) VALUES ('\(userID)', (now() AT TIME ZONE 'UTC')::date - 3, 30)",
                """
                INSERT INTO login_failures (subject, failures, last_failed_at) VALUES ('account:old-\(marker)', 4, now() - interval '2 hours'),
                    ('account:new-\(marker)', 4, now()), ('account:blocked-\(marker)', 20, now() - interval '2 hours')
                """,
                "UPDATE login_failures SET blocked_until = now() + interval '1 hour' WHERE subject = 'account:blocked-\(marker)'",
                """
                INSERT INTO audit_events (id, at, action, detail) VALUES (gen_random_uuid(), now() - interval '400 days', 'test.old', '{"m": "\(marker)"}'),
                    (gen_random_uuid(), now() - interval '10 days', 'test.recent', '{"m": "\(marker)"}')
                """
            )
            #expect(try await api.stores.usage.pruneOldDays() >= 1)
            #expect(try await api.stores.loginFailures.prune(quietFor: .seconds(900)) >= 1)
            #expect(try await api.stores.audit.prune(olderThan: .seconds(365 * 86_400)) >= 1)
            #expect(try await api.stores.audit.prune(olderThan: nil) == 0, "no retention keeps every event")

            #expect(try await api.stores.usage.dailyAllowance(userID: userID, limit: 30).used == 1, "today's count is kept")
            let subjects = try await api.stores.loginFailures.loginBlockedUntil(subjects: ["account:blocked-\(marker)"])
            #expect(subjects != nil, "a subject still blocked is kept")
            let audit = try await api.stores.audit.auditEvents(limit: 10_000).filter { $0.detail["m"] == marker }.map(\.action.rawValue)
            #expect(audit == ["test.recent"])
            try await api.execute(unsafeSQL: """
                DO $$ BEGIN
                    IF (SELECT count(*) FROM daily_usage WHERE user_id = '\(userID)') <> 1 THEN RAISE EXCEPTION 'old count kept'; END IF;
                    IF (SELECT count(*) FROM login_failures WHERE subject LIKE '%-\(marker)') <> 2 THEN RAISE EXCEPTION 'quiet run kept'; END IF;
                END $$
                """)
        }
    }
}
