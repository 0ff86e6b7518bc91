import Foundation
import Testing

@testable import ScribeDocuments

/// What a killed worker left in the temporary folder is removed; what a live
/// process uses, and what is not Scribe's, is not.
@Suite struct ScratchFilesTests {
    /// The pid of a process that has exited.
    static func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func namesSayWhoseTheyAre() {
        let uuid = UUID().uuidString
        #expect(ScratchFiles.owner(of: "scribe-upload-123-\(uuid)") == .process(123))
        #expect(ScratchFiles.owner(of: "scribe-ocr-77-\(uuid).pdf") == .process(77))
        #expect(ScratchFiles.owner(of: "scribe-upload-\(uuid)") == .unknown)
        #expect(ScratchFiles.owner(of: "scribe-ocr-\(uuid).pdf") == .unknown)
        #expect(ScratchFiles.owner(of: "scribe-test-logs") == nil)
        #expect(ScratchFiles.owner(of: "scribe-bench-pg.abc") == nil)
        #expect(ScratchFiles.url("upload").lastPathComponent.hasPrefix("scribe-upload-\(getpid())-"))
    }

    @Test func aGoneProcesssFilesAreRemovedALiveOnesKept() throws {
        let folder = FileManager.default.temporaryDirectory
        let dead = try Self.deadPID()
        let theirs = folder.appendingPathComponent("scribe-upload-\(dead)-\(UUID().uuidString)")
        let theirFolder = folder.appendingPathComponent("scribe-ocr-\(dead)-\(UUID().uuidString)")
        let mine = ScratchFiles.url("upload")
        let old = folder.appendingPathComponent("scribe-upload-\(UUID().uuidString)")
        let recent = folder.appendingPathComponent("scribe-ocr-\(UUID().uuidString).pdf")
        for url in [theirs, mine, old, recent] {
            #expect(FileManager.default.createFile(atPath: url.path, contents: Data("x".utf8)))
        }
        try FileManager.default.createDirectory(at: theirFolder, withIntermediateDirectories: false)
        #expect(FileManager.default.createFile(atPath: theirFolder.appendingPathComponent("page-001.png").path, contents: Data("x".utf8)))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3 * 24 * 3600)], ofItemAtPath: old.path)
        defer { for url in [theirs, theirFolder, mine, old, recent] { try? FileManager.default.removeItem(at: url) } }

        #expect(ScratchFiles.sweep() >= 3)
        #expect(!FileManager.default.fileExists(atPath: theirs.path))
        #expect(!FileManager.default.fileExists(atPath: theirFolder.path))
        #expect(!FileManager.default.fileExists(atPath: old.path))
        #expect(FileManager.default.fileExists(atPath: mine.path), "this process is running")
        #expect(FileManager.default.fileExists(atPath: recent.path), "an unnamed one is kept for a day")
    }
}
