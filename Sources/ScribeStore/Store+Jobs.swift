import Foundation
import NIOCore
import PostgresNIO

/// The queue's SQL. Each method is one state change, guarded so that an
/// outcome is recorded only while the caller's lease holds.
extension Store {
    /// The channel a `NOTIFY` nudges idle workers on. It carries no row: a
    /// woken worker claims like any other.
    public static let queueChannel = "scribe_jobs"

    // MARK: Enqueue

    /// Enqueues uploaded files: per file one user message (`queued`, with its
    /// attachment and the caption) and one job holding the bytes, all in ONE
    /// transaction that also NOTIFYs the workers.
    ///
    /// With an `idempotencyKey` already used by this user, nothing is written
    /// and the first request's answer is returned. Throws ``StoreError``
    /// `.notFound` when the conversation is not the user's.
    public func enqueueUploads(
        userID: UUID,
        conversationID: UUID,
        caption: String?,
        files: [NewUpload],
        idempotencyKey: String?,
        maxAttempts: Int
    ) async throws -> [EnqueuedUpload] {
        if let idempotencyKey, let earlier = try await uploads(userID: userID, idempotencyKey: idempotencyKey) {
            return earlier
        }
        // Storing the bytes takes time of its own: a second more per 10 MB.
        let bytes = files.reduce(0) { $0 + $1.bytes.readableBytes }
        let timeout = database.options.timeout + .milliseconds(bytes / 10_000)
        do {
            return try await transaction(timeout: timeout) { connection in
                // A plain read, not an UPDATE: concurrent uploads to one conversation
                // must not queue on its row lock. (The messages' foreign key holds a
                // KEY SHARE lock against a concurrent delete; the conversation's
                // updated_at moves when the answer is written.)
                let rows = try await connection.query(
                    "SELECT id FROM conversations WHERE id = \(conversationID) AND user_id = \(userID)",
                    logger: logger
                )
                var owned = false
                for try await _ in rows.decode(UUID.self) { owned = true }
                guard owned else { throw StoreError(.notFound, "Conversation not found.") }

                // Fair turns (sql/006): each file's place in this user's own line.
                let fairnessKey = userID.uuidString.lowercased()
                let waiting = try await connection.query(
                    """
                    SELECT count(*) FROM jobs
                    WHERE queue = 'default' AND fairness_key = \(fairnessKey) AND state IN ('available', 'running')
                    """,
                    logger: logger
                )
                var ahead = 0
                for try await count in waiting.decode(Int.self) { ahead = count }

                var enqueued: [EnqueuedUpload] = []
                for (position, file) in files.enumerated() {
                    let attachment = Attachment(filename: file.filename, contentType: file.contentType, size: file.bytes.readableBytes)
                    let message = try await insertMessage(
                        conversationID: conversationID,
                        role: .user,
                        content: caption ?? "",
                        status: .queued,
                        stage: "queued",
                        attachments: [attachment],
                        on: connection
                    )
                    let jobID = UUID.v7()
                    try await connection.query(
                        """
                        INSERT INTO jobs (id, kind, max_attempts, payload, filename, content_type, size,
                                          user_id, conversation_id, message_id, idempotency_key, request_position,
                                          fairness_key, fair_rank)
                        VALUES (\(jobID), \(JobKind.processUpload), \(maxAttempts), \(file.bytes), \(file.filename),
                                \(file.contentType), \(file.bytes.readableBytes), \(userID), \(conversationID),
                                \(message.id), \(idempotencyKey), \(position), \(fairnessKey), \(ahead + position + 1))
                        """,
                        logger: logger
                    )
                    enqueued.append(
                        EnqueuedUpload(messageID: message.id, jobID: jobID, conversationID: conversationID, filename: file.filename, status: .queued)
                    )
                }
                try await connection.query("SELECT pg_notify(\(Self.queueChannel), '')", logger: logger)
                return enqueued
            }
        } catch let error as PSQLError where error.isUniqueViolation && idempotencyKey != nil {
            // A concurrent request with the same key won the race: answer as it did.
            if let idempotencyKey, let earlier = try await uploads(userID: userID, idempotencyKey: idempotencyKey) {
                return earlier
            }
            throw error
        }
    }

    /// The answer of an earlier upload request made with `idempotencyKey`, if any.
    func uploads(userID: UUID, idempotencyKey: String) async throws -> [EnqueuedUpload]? {
        try await withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT j.message_id, j.id, j.conversation_id, j.filename FROM jobs j
                WHERE j.user_id = \(userID) AND j.idempotency_key = \(idempotencyKey)
                ORDER BY j.request_position
                """,
                logger: logger
            )
            var uploads: [EnqueuedUpload] = []
            for try await (messageID, jobID, conversationID, filename) in rows.decode((UUID, UUID, UUID, String).self) {
                uploads.append(EnqueuedUpload(messageID: messageID, jobID: jobID, conversationID: conversationID, filename: filename, status: .queued))
            }
            return uploads.isEmpty ? nil : uploads
        }
    }

    // MARK: Claim and lease

    /// Claims up to `limit` runnable jobs for `workerID` in one statement:
    /// skips rows other workers hold, counts the attempt, sets the lease, and
    /// marks their messages `processing`. Jobs are taken by priority, then by
    /// their rank in their owner's line (fair turns, sql/006), then oldest first.
    public func claimJobs(workerID: String, queue: String = "default", limit: Int, lease: Duration) async throws -> [ClaimedJob] {
        try await withConnection { connection in
            let rows = try await connection.query(
                """
                WITH claimed AS (
                    UPDATE jobs SET state = 'running', attempt = attempt + 1, locked_by = \(workerID),
                           locked_until = now() + make_interval(secs => \(lease.seconds)), heartbeat_at = now(),
                           started_at = coalesce(started_at, now())
                    WHERE id IN (
                        SELECT id FROM jobs
                        WHERE state = 'available' AND queue = \(queue) AND run_at <= now()
                        ORDER BY priority, fair_rank, run_at, id
                        FOR UPDATE SKIP LOCKED
                        LIMIT \(limit)
                    )
                    RETURNING id, kind, attempt, max_attempts, message_id, conversation_id, filename, content_type, ocr_text
                ), progress AS (
                    UPDATE messages m SET status = 'processing',
                           stage = CASE WHEN c.ocr_text IS NULL THEN 'ocr' ELSE 'llm' END, updated_at = now()
                    FROM claimed c WHERE m.id = c.message_id
                )
                SELECT id, kind, attempt, max_attempts, message_id, conversation_id, filename, content_type, ocr_text FROM claimed
                """,
                logger: logger
            )
            var jobs: [ClaimedJob] = []
            for try await row in rows.decode((UUID, JobKind, Int, Int, UUID?, UUID?, String?, String?, String?).self) {
                jobs.append(
                    ClaimedJob(
                        lease: JobLease(jobID: row.0, workerID: workerID, attempt: row.2),
                        kind: row.1,
                        maxAttempts: row.3,
                        messageID: row.4,
                        conversationID: row.5,
                        filename: row.6,
                        contentType: row.7,
                        ocrText: row.8
                    )
                )
            }
            return jobs
        }
    }

    /// Extends the leases of the given jobs, in one statement: the heartbeat.
    /// Only jobs this worker still holds are touched.
    @discardableResult
    public func extendLeases(_ leases: [JobLease], by lease: Duration) async throws -> Int {
        guard let workerID = leases.first?.workerID else { return 0 }
        return try await withConnection { connection in
            let rows = try await connection.query(
                """
                UPDATE jobs SET locked_until = now() + make_interval(secs => \(lease.seconds)), heartbeat_at = now()
                WHERE id = ANY(\(leases.map(\.jobID))) AND locked_by = \(workerID) AND state = 'running'
                RETURNING id
                """,
                logger: logger
            )
            return try await rows.collect().count
        }
    }

    /// The uploaded bytes of a job (nil once they have been dropped).
    ///
    /// An upload may be tens of megabytes, so reading it gets ten times the
    /// database's timeout.
    public func payload(of lease: JobLease) async throws -> ByteBuffer? {
        try await withConnection(timeout: database.options.timeout * 10) { connection in
            let rows = try await connection.query("SELECT payload FROM jobs WHERE id = \(lease.jobID)", logger: logger)
            for try await payload in rows.decode(ByteBuffer?.self) { return payload }
            return nil
        }
    }

    // MARK: Outcomes

    /// Stores the recognised text on the job and on its message (the OCR
    /// checkpoint), with the page count and how each page was read on the
    /// message's attachment, and moves both to the `llm` stage. Throws
    /// `.leaseLost` when the lease no longer holds.
    public func checkpointOCR(_ lease: JobLease, text: String, pages: [AttachmentPage]) async throws {
        let pageCount = pages.count
        let details = Self.json(pages)
        try await withConnection { connection in
            let rows = try await connection.query(
                """
                WITH job AS (
                    UPDATE jobs SET ocr_text = \(text), page_count = \(pageCount), stage = 'llm'
                    WHERE id = \(lease.jobID) AND locked_by = \(lease.workerID) AND attempt = \(lease.attempt) AND state = 'running'
                    RETURNING id, message_id
                ), message AS (
                    UPDATE messages m SET document_text = \(text), stage = 'llm', updated_at = now(),
                           attachments = CASE WHEN jsonb_array_length(m.attachments) > 0
                                         THEN jsonb_set(m.attachments, '{0}', m.attachments->0
                                              || jsonb_build_object('pages', \(pageCount)::int, 'page_details', \(details)::jsonb))
                                         ELSE m.attachments END
                    FROM job WHERE m.id = job.message_id
                )
                SELECT id FROM job
                """,
                logger: logger
            )
            guard try await rows.collect().count == 1 else { throw Self.leaseLost(lease) }
        }
    }

    /// The final step of an upload, in ONE transaction: the assistant's answer
    /// (`reply_to` the user message), the user message `done`, the job
    /// `succeeded` (its bytes dropped when `dropPayload`). Throws `.leaseLost`
    /// (and writes nothing) when the lease no longer holds.
    public func completeUpload(_ lease: JobLease, answer: String, metadata: MessageMetadata, dropPayload: Bool) async throws {
        try await transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE jobs SET state = 'succeeded', finished_at = now(), locked_by = NULL, locked_until = NULL, stage = NULL,
                       payload = CASE WHEN \(dropPayload) THEN NULL ELSE payload END
                WHERE id = \(lease.jobID) AND locked_by = \(lease.workerID) AND attempt = \(lease.attempt) AND state = 'running'
                RETURNING message_id, conversation_id
                """,
                logger: logger
            )
            var target: (UUID, UUID)?
            for try await (messageID, conversationID) in rows.decode((UUID?, UUID?).self) {
                if let messageID, let conversationID { target = (messageID, conversationID) }
            }
            guard let (messageID, conversationID) = target else { throw Self.leaseLost(lease) }
            _ = try await insertMessage(
                conversationID: conversationID,
                role: .assistant,
                content: answer,
                status: .done,
                replyTo: messageID,
                metadata: metadata,
                on: connection
            )
            try await connection.query(
                "UPDATE messages SET status = 'done', stage = NULL, error = NULL, updated_at = now() WHERE id = \(messageID)",
                logger: logger
            )
            try await connection.query("UPDATE conversations SET updated_at = now() WHERE id = \(conversationID)", logger: logger)
        }
    }

    /// Completes a job that has no message to answer (e.g. a no-op benchmark job).
    public func completeJobs(_ leases: [JobLease]) async throws -> Int {
        guard !leases.isEmpty else { return 0 }
        return try await withConnection { connection in
            let rows = try await connection.query(
                """
                UPDATE jobs j SET state = 'succeeded', finished_at = now(), locked_by = NULL, locked_until = NULL, payload = NULL
                FROM unnest(\(leases.map(\.jobID)), \(leases.map(\.workerID)), \(leases.map(\.attempt))) AS l(id, worker, attempt)
                WHERE j.id = l.id AND j.locked_by = l.worker AND j.attempt = l.attempt AND j.state = 'running'
                RETURNING j.id
                """,
                logger: logger
            )
            return try await rows.collect().count
        }
    }

    /// Records a failed attempt. The job goes back to `available` after
    /// `delay`, or, when its attempts are spent, to `failed` with its message
    /// `failed` and `userError` shown. Returns the job's new state.
    @discardableResult
    public func retryJob(_ lease: JobLease, error: String, userError: String, delay: Duration) async throws -> JobState {
        try await recordFailure(lease, error: error, userError: userError, delay: delay, permanent: false)
    }

    /// Records a permanent failure (unreadable file, refused request): the job
    /// and its message become `failed` at once, with `userError` on the message.
    public func failJob(_ lease: JobLease, error: String, userError: String) async throws {
        _ = try await recordFailure(lease, error: error, userError: userError, delay: .zero, permanent: true)
    }

    private func recordFailure(_ lease: JobLease, error: String, userError: String, delay: Duration, permanent: Bool) async throws -> JobState {
        try await withConnection { connection in
            let rows = try await connection.query(
                """
                WITH job AS (
                    UPDATE jobs SET
                        state = CASE WHEN \(permanent) OR attempt >= max_attempts THEN 'failed' ELSE 'available' END,
                        finished_at = CASE WHEN \(permanent) OR attempt >= max_attempts THEN now() END,
                        run_at = now() + make_interval(secs => \(delay.seconds)),
                        locked_by = NULL, locked_until = NULL, last_error = \(error),
                        errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(), 'error', \(error)::text))
                    WHERE id = \(lease.jobID) AND locked_by = \(lease.workerID) AND attempt = \(lease.attempt) AND state = 'running'
                    RETURNING state, message_id
                ), message AS (
                    UPDATE messages m SET
                        status = CASE WHEN job.state = 'failed' THEN 'failed' ELSE 'queued' END,
                        error = CASE WHEN job.state = 'failed' THEN \(userError)::text END,
                        updated_at = now()
                    FROM job WHERE m.id = job.message_id
                )
                SELECT state FROM job
                """,
                logger: logger
            )
            for try await state in rows.decode(JobState.self) { return state }
            throw Self.leaseLost(lease)
        }
    }

    /// Hands every job `workerID` still runs back to the queue without
    /// spending an attempt: what a worker does when asked to stop.
    @discardableResult
    public func handBackJobs(workerID: String) async throws -> Int {
        try await handBack(
            """
            WITH job AS (
                UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), run_at = now(),
                       locked_by = NULL, locked_until = NULL
                WHERE locked_by = \(workerID) AND state = 'running'
                RETURNING id, message_id
            ), message AS (
                UPDATE messages m SET status = 'queued', updated_at = now() FROM job WHERE m.id = job.message_id
            )
            SELECT id FROM job
            """
        )
    }

    /// Hands one job back to the queue without spending an attempt, if
    /// `lease` still holds it (even past its expiry, as long as no rescuer
    /// took it): for an attempt that failed only because the database went
    /// away. Returns false when the lease was lost (the job finished, or was
    /// rescued and belongs to another attempt).
    @discardableResult
    public func handBackJob(_ lease: JobLease) async throws -> Bool {
        try await handBack(
            """
            WITH job AS (
                UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), run_at = now(),
                       locked_by = NULL, locked_until = NULL
                WHERE id = \(lease.jobID) AND locked_by = \(lease.workerID) AND attempt = \(lease.attempt) AND state = 'running'
                RETURNING id, message_id
            ), message AS (
                UPDATE messages m SET status = 'queued', updated_at = now() FROM job WHERE m.id = job.message_id
            )
            SELECT id FROM job
            """
        ) == 1
    }

    /// Runs a hand-back statement and nudges idle workers when it returned jobs to the queue.
    private func handBack(_ statement: PostgresQuery) async throws -> Int {
        try await withConnection { connection in
            let count = try await connection.query(statement, logger: logger).collect().count
            if count > 0 { try await connection.query("SELECT pg_notify(\(Self.queueChannel), '')", logger: logger) }
            return count
        }
    }

    /// Returns jobs whose lease expired (their worker died or hung) to the
    /// queue, or fails them when their attempts are spent, so a file that
    /// kills workers cannot loop forever. Returns (requeued, failed).
    public func rescueExpiredLeases(limit: Int = 1000) async throws -> (requeued: Int, failed: Int) {
        let lost = "The worker processing this file stopped before it finished."
        return try await withConnection { connection in
            let rows = try await connection.query(
                """
                WITH job AS (
                    UPDATE jobs SET
                        state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'available' END,
                        finished_at = CASE WHEN attempt >= max_attempts THEN now() END,
                        run_at = now(), locked_by = NULL, locked_until = NULL, last_error = \(lost),
                        errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(), 'error', \(lost)::text))
                    WHERE id IN (
                        SELECT id FROM jobs WHERE state = 'running' AND locked_until < now()
                        ORDER BY locked_until FOR UPDATE SKIP LOCKED LIMIT \(limit)
                    )
                    RETURNING state, message_id, max_attempts
                ), message AS (
                    UPDATE messages m SET
                        status = CASE WHEN job.state = 'failed' THEN 'failed' ELSE 'queued' END,
                        error = CASE WHEN job.state = 'failed'
                                THEN 'Processing this file stopped unexpectedly ' || job.max_attempts || ' times; giving up.' END,
                        updated_at = now()
                    FROM job WHERE m.id = job.message_id
                )
                SELECT state FROM job
                """,
                logger: logger
            )
            var requeued = 0
            var failed = 0
            for try await state in rows.decode(JobState.self) {
                if state == .failed { failed += 1 } else { requeued += 1 }
            }
            if requeued > 0 { try await connection.query("SELECT pg_notify(\(Self.queueChannel), '')", logger: logger) }
            return (requeued, failed)
        }
    }

    /// Drops the bytes of jobs that succeeded more than `payloadRetention` ago
    /// and deletes finished jobs older than `jobRetention`.
    public func pruneJobs(payloadRetention: Duration, jobRetention: Duration) async throws -> (payloadsDropped: Int, jobsDeleted: Int) {
        try await withConnection { connection in
            let dropped = try await connection.query(
                """
                UPDATE jobs SET payload = NULL
                WHERE id IN (
                    SELECT id FROM jobs WHERE state = 'succeeded' AND payload IS NOT NULL
                      AND finished_at < now() - make_interval(secs => \(payloadRetention.seconds))
                    LIMIT 1000
                )
                RETURNING id
                """,
                logger: logger
            ).collect().count
            let deleted = try await connection.query(
                """
                DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled')
                      AND finished_at < now() - make_interval(secs => \(jobRetention.seconds))
                    LIMIT 1000
                )
                RETURNING id
                """,
                logger: logger
            ).collect().count
            return (dropped, deleted)
        }
    }

    // MARK: Reads

    /// The job `id` if `userID` owns it, else nil.
    public func job(id: UUID, userID: UUID) async throws -> Job? {
        try await withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT id, kind, state, attempt, max_attempts, stage, last_error, message_id, conversation_id,
                       filename, content_type, size, run_at, created_at, started_at, finished_at
                FROM jobs WHERE id = \(id) AND user_id = \(userID)
                """,
                logger: logger
            )
            for try await row in rows.decode(
                (UUID, JobKind, JobState, Int, Int, String?, String?, UUID?, UUID?, String?, String?, Int?, Date, Date, Date?, Date?).self
            ) {
                return Job(
                    id: row.0, kind: row.1, state: row.2, attempt: row.3, maxAttempts: row.4, stage: row.5, lastError: row.6,
                    messageID: row.7, conversationID: row.8, filename: row.9, contentType: row.10, size: row.11,
                    runAt: row.12, createdAt: row.13, startedAt: row.14, finishedAt: row.15
                )
            }
            return nil
        }
    }

    static func leaseLost(_ lease: JobLease) -> StoreError {
        StoreError(.leaseLost, "The lease on job \(lease.jobID) (attempt \(lease.attempt)) is no longer held by \(lease.workerID).")
    }
}

extension Duration {
    /// The duration in (fractional) seconds, for `make_interval(secs => …)`.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
