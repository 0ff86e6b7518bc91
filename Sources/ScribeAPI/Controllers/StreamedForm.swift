import Foundation
import Hummingbird
import MultipartKit
import NIOCore
import ScribeStore

/// A `multipart/form-data` upload read as it arrives: each file part is
/// staged into `upload_chunks` a chunk at a time (``UploadChunkStore``),
/// text fields are kept (each at most ``maxFieldBytes``), so the API holds
/// about one chunk per request whatever the files' sizes.
///
/// What is staged is not an upload yet: the caller commits the uploads'
/// rows (or discards the chunks, ``discard()``) when the request is done.
struct StreamedForm {
    /// A file part, staged.
    struct File {
        /// The id its chunks are stored under: the upload's id once it is committed.
        var uploadID: UUID
        var filename: String?
        var size: Int
        var chunkCount: Int
        /// Its first bytes, for sniffing its kind.
        var head: ByteBuffer
        /// The whole file, when it fitted in one chunk: then nothing of it is
        /// staged, and it is stored with its upload's row.
        var whole: ByteBuffer?
    }

    /// The text fields, by name, in order.
    var fields: [(name: String?, value: String)] = []
    var files: [File] = []
    let chunks: UploadChunkStore

    /// The most bytes a text field may have.
    static let maxFieldBytes = 64 * 1024
    /// Bytes kept of each file for sniffing.
    static let headBytes = 4096
    /// The part names read as files even without a file name.
    static let fileNames: Set<String> = ["file", "file[]", "files"]

    /// The text of the first field named `name`.
    func text(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// Deletes every staged chunk (the request was refused, or answered from an earlier one).
    func discard(keeping kept: Set<UUID> = []) async {
        let ids = files.filter { $0.chunkCount > 0 && !kept.contains($0.uploadID) }.map(\.uploadID)
        _ = try? await chunks.discard(uploadIDs: ids)
    }

    /// Reads `body` to its end. A file over `limits.maxFileBytes`, a body over
    /// `limits.maxRequestBytes` or more than `limits.maxFiles` files is a 413;
    /// a body that is not well-formed multipart, or ends early, a 400. On any
    /// error the chunks staged so far are deleted before it is thrown.
    static func read(_ body: RequestBody, boundary: String, limits: UploadLimits, chunks: UploadChunkStore) async throws -> StreamedForm {
        let reader = Reader(boundary: boundary, limits: limits)
        var form = StreamedForm(chunks: chunks)
        do {
            var received = 0
            for try await buffer in body {
                received += buffer.readableBytes
                guard received <= limits.maxRequestBytes else {
                    throw APIError(
                        .contentTooLarge, code: "payload_too_large",
                        message: "The request is larger than the \(limits.maxRequestBytes / (1 << 20)) MiB limit."
                    )
                }
                do {
                    try reader.parser.execute(buffer)
                } catch {
                    throw APIError.badRequest("The request body is not valid multipart/form-data.")
                }
                if let error = reader.error { throw error }
                try await reader.flush(into: &form, chunks: chunks)
            }
            guard !reader.open, reader.completed > 0 else { throw APIError.badRequest("The multipart body is incomplete.") }
            return form
        } catch {
            await form.discard()
            throw error
        }
    }

    /// One part as the parser has given it so far.
    private struct Part {
        var name: String?
        var filename: String?
        /// Bytes received and not stored yet.
        var pending = ByteBuffer()
        var size = 0
        /// Its place in `files` once it is known to be a file and has been started.
        var fileIndex: Int?
        var isFile: Bool { filename != nil || StreamedForm.fileNames.contains(name ?? "") }
    }

    /// The parser's callbacks write here; ``flush(into:chunks:)`` stores what they collected.
    private final class Reader {
        let parser: MultipartParser
        let limits: UploadLimits
        var error: APIError?
        /// The part being received, if any.
        var current: Part?
        /// Parts that ended since the last flush, in order.
        var ended: [Part] = []
        var completed = 0
        var open: Bool { current != nil }

        init(boundary: String, limits: UploadLimits) {
            parser = MultipartParser(boundary: boundary)
            self.limits = limits
            parser.onHeader = { [unowned self] field, value in
                if self.current == nil { self.current = Part() }
                if field.lowercased() == "content-disposition" {
                    let parameters = MultipartForm.parameters(of: value)
                    self.current?.name = parameters["name"]
                    self.current?.filename = parameters["filename"]
                }
            }
            parser.onBody = { [unowned self] chunk in
                // Taken out, so that appending never copies what the part holds.
                var part = self.current.take() ?? Part()
                part.size += chunk.readableBytes
                let limit = part.isFile ? limits.maxFileBytes : StreamedForm.maxFieldBytes
                if part.size > limit {
                    let what = part.filename ?? part.name ?? "A part"
                    self.error = self.error ?? APIError(
                        .contentTooLarge, code: part.isFile ? "file_too_large" : "field_too_large",
                        message: part.isFile
                            ? "\(what) is larger than the \(limits.maxFileBytes / (1 << 20)) MiB limit per file."
                            : "The field '\(what)' is larger than \(StreamedForm.maxFieldBytes / 1024) KiB.",
                        field: part.isFile ? "file" : part.name
                    )
                } else {
                    part.pending.writeBuffer(&chunk)
                }
                self.current = part
            }
            parser.onPartComplete = { [unowned self] in
                self.ended.append(self.current.take() ?? Part())
            }
        }

        /// Stores what the parts that ended still hold (a file's last chunk, a
        /// text field), then the full chunks of the part being received.
        func flush(into form: inout StreamedForm, chunks: UploadChunkStore) async throws {
            while !ended.isEmpty {
                var part = ended.removeFirst()
                try await store(&part, into: &form, chunks: chunks, ended: true)
                completed += 1
            }
            // Taken out and put back, so that storing never copies what the part holds.
            if var part = current.take() {
                if part.isFile { try await store(&part, into: &form, chunks: chunks, ended: false) }
                current = part
            }
        }

        private func store(_ part: inout Part, into form: inout StreamedForm, chunks: UploadChunkStore, ended: Bool) async throws {
            guard part.isFile else {
                if ended { form.fields.append((part.name, String(buffer: part.pending))) }
                return
            }
            let index: Int
            if let known = part.fileIndex {
                index = known
            } else {
                guard form.files.count < limits.maxFiles else {
                    throw APIError(.contentTooLarge, code: "too_many_files", message: "At most \(limits.maxFiles) files per request.", field: "file")
                }
                let head = part.pending.getSlice(at: part.pending.readerIndex, length: min(StreamedForm.headBytes, part.pending.readableBytes)) ?? ByteBuffer()
                form.files.append(File(uploadID: .v7(), filename: part.filename, size: 0, chunkCount: 0, head: head, whole: nil))
                index = form.files.count - 1
                part.fileIndex = index
            }
            var file = form.files[index]
            if file.size == 0, file.head.readableBytes < StreamedForm.headBytes {
                file.head = part.pending.getSlice(at: part.pending.readerIndex, length: min(StreamedForm.headBytes, part.pending.readableBytes)) ?? ByteBuffer()
            }
            while part.pending.readableBytes >= UploadChunkStore.chunkBytes {
                let chunk = part.pending.readSlice(length: UploadChunkStore.chunkBytes)!
                try await chunks.append(uploadID: file.uploadID, position: file.chunkCount, bytes: chunk)
                file.chunkCount += 1
                file.size += chunk.readableBytes
            }
            if ended, file.chunkCount == 0 {
                // A file of one chunk stays in memory, and is stored with its
                // upload's row in the one transaction: no statement of its own.
                file.whole = part.pending
                file.size = part.pending.readableBytes
                part.pending = ByteBuffer()
            } else if ended, part.pending.readableBytes > 0 {
                try await chunks.append(uploadID: file.uploadID, position: file.chunkCount, bytes: part.pending)
                file.chunkCount += 1
                file.size += part.pending.readableBytes
                part.pending = ByteBuffer()
            }
            part.pending.discardReadBytes()
            form.files[index] = file
        }
    }
}
