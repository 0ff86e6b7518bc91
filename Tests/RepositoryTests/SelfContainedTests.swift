import Foundation
import ScribeTestSupport
import Testing

/// The repository stands on its own: `scripts/check-self-contained` (which
/// scripts/test runs first) passes on this checkout, and fails, naming the
/// file and line, on a tree where a file refers to a folder beside it.
@Suite struct SelfContainedTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let guardScript = root.appendingPathComponent("scripts/check-self-contained")
    /// One folder up, spelled so that this file's own text refers to nothing
    /// outside the tree (the guard reads it too).
    static let up = ".." + "/"
    /// A sibling of the checkout.
    static let sibling = up + "shared/fixtures/ocr"

    static func check(_ tree: URL) async throws -> ChildProcess.Completion {
        try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", guardScript.path, tree.path], label: "self-contained")
    }

    /// A git repository in a new temporary folder holding `files` (path → text), all tracked.
    static func repository(_ files: [String: String]) async throws -> URL {
        let tree = FileManager.default.temporaryDirectory.appendingPathComponent("scribe-guard-\(UUID().uuidString.prefix(8))/checkout")
        for (path, text) in files {
            let url = tree.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        for arguments in [["init", "-q"], ["add", "-A"]] {
            let git = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), ["git", "-C", tree.path] + arguments, label: "git")
            try #require(git.status == 0, "git \(arguments): \(git.errors)")
        }
        return tree
    }

    @Test func thisCheckoutRefersToNothingBesideIt() async throws {
        let run = try await Self.check(Self.root)
        #expect(run.status == 0, "\(run.errors)")
    }

    @Test func aPlantedReferenceToASiblingFolderFailsWithFileAndLine() async throws {
        let tree = try await Self.repository([
            "scripts/bench": "#!/bin/sh\ncd \"$(dirname \"$0\")/..\"\npdftoppm \(Self.sibling)/letter_ru_text.pdf page\n",
            "README.md": "# A project\n\nSee [the notes](\(Self.up)other-project/notes.md).\n",
            // What may stay: a path inside the tree, one more than a folder up, and an anchor.
            "web/openapi.json": "{}\n",
            "web/docs/docs.js": "fetch(new URL('\(Self.up)openapi.json', document.baseURI));\n",
            "docs/alerts.md": "See [metrics](\(Self.up)README.md#metrics).\n",
            "Tests/ScribeAPITests/UploadTests.swift": "let name = \"../../etc/scan.png\"\n",
        ])
        defer { try? FileManager.default.removeItem(at: tree.deletingLastPathComponent()) }
        let run = try await Self.check(tree)
        #expect(run.status == 1)
        #expect(run.errors.contains("must stand on its own"), "\(run.errors)")
        #expect(run.errors.contains("scripts/bench:3: \(Self.sibling)/letter_ru_text.pdf"), "\(run.errors)")
        #expect(run.errors.contains("README.md:3:"), "\(run.errors)")
        for allowed in ["web/docs/docs.js", "docs/alerts.md", "Tests/ScribeAPITests/UploadTests.swift"] {
            #expect(!run.errors.contains(allowed), "\(allowed) is inside the tree: \(run.errors)")
        }
    }

    @Test(.disabled(if: ProcessInfo.processInfo.environment["SCRIBE_FIXTURES"] != nil, "SCRIBE_FIXTURES points elsewhere"))
    func theFixturesAreInTheRepository() {
        #expect(Fixtures.directory.path.hasPrefix(Self.root.path + "/Tests/Fixtures/"), "\(Fixtures.directory.path)")
        #expect(!Fixtures.documents.isEmpty && !Fixtures.scans.isEmpty)
        for name in Fixtures.documents + Fixtures.scans {
            #expect((try? Fixtures.expectedText(for: name)) != nil, "\(name) has its .txt truth beside it")
        }
    }
}
