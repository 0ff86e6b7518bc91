import Foundation
import ScribeDocuments
import ScribeQueue
import ScribeStore

/// An upload's bytes copied to a private temporary file (mode 0600), a chunk at
/// a time, so a worker never holds a whole file of hundreds of megabytes in
/// memory; its kind sniffed from its first bytes. Its owner calls ``remove()``.
struct UploadFile {
    let path: String
    let kind: DocumentKind

    /// Copies the bytes of `upload` to a temporary file: from its chunks, or
    /// from its row for an upload stored before chunks.
    ///
    /// - Throws: A permanent ``JobError`` when the bytes are gone or are not a
    ///   kind Scribe reads.
    static func fetch(_ upload: UploadRecord, uploads: UploadStore, chunks: UploadChunkStore) async throws -> UploadFile {
        let path = ScratchFiles.url("upload").path
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: path)
        else {
            throw JobError.retryable("cannot create a temporary file", userMessage: "\(upload.filename) could not be read right now.")
        }
        do {
            var written = 0
            if upload.chunkCount != nil {
                written = try await chunks.forEachChunk(uploadID: upload.id) { chunk in
                    try handle.write(contentsOf: Data(chunk.readableBytesView))
                }
            } else if let payload = try await uploads.payload(ofUpload: upload.id) {
                try handle.write(contentsOf: Data(payload.readableBytesView))
                written = 1
            }
            try handle.close()
            guard written > 0 else {
                throw JobError.permanent("the upload's bytes are gone", userMessage: "\(upload.filename) is no longer stored; please upload it again.")
            }
            let head: [UInt8]
            if let reading = FileHandle(forReadingAtPath: path) {
                head = (try? reading.read(upToCount: 4096)).flatMap { $0 }.map { [UInt8]($0) } ?? []
                try? reading.close()
            } else {
                head = []
            }
            guard let kind = DocumentKind.sniff(head: head, ofLongerFile: head.count == 4096) else {
                throw JobError.permanent("unrecognised file type", userMessage: "\(upload.filename) is not an image, PDF or text file Scribe can read.")
            }
            return UploadFile(path: path, kind: kind)
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
    }

    /// The whole file, for the kinds read from memory (images, plain text).
    func bytes() throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JobError.retryable("the temporary copy is gone", userMessage: "The file could not be read right now.")
        }
        return [UInt8](data)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
