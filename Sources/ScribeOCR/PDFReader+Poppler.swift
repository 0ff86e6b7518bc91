import ScribeDocuments
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Subprocess

extension PDFReader {
    private enum ToolOutcome: Sendable {
        case exited(TerminationStatus, [UInt8])
        case failed(SubprocessError?)
        case timedOut
    }

    /// Runs a poppler tool, collecting standard output, and kills it after the page time budget.
    ///
    /// - Parameter failure: The error for a non-zero exit status.
    func runTool(_ tool: String, _ arguments: [String], outputLimit: Int, failure: OCRError) async throws(OCRError) -> [UInt8] {
        let budget = configuration.pageTimeBudget
        let outcome = await withTaskGroup(of: ToolOutcome?.self) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(
                        .name(tool), arguments: Arguments(arguments),
                        output: .bytes(limit: outputLimit), error: .discarded
                    )
                    return .exited(result.terminationStatus, result.standardOutput)
                } catch {
                    return .failed(error as? SubprocessError)
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: budget)
                    return .timedOut
                } catch {
                    return nil // cancelled: the tool finished first
                }
            }
            var first: ToolOutcome?
            while first == nil, let next = await group.next() {
                first = next
            }
            group.cancelAll()
            return first ?? .failed(nil)
        }

        switch outcome {
        case .exited(let status, let output):
            guard status.isSuccess else { throw failure }
            return output
        case .timedOut:
            throw OCRError(.timeout, "Reading the PDF with \(tool) took longer than \(OCRError.describe(budget)).")
        case .failed(let error) where error?.code == .outputLimitExceeded:
            throw OCRError(.invalidPDF, "\(tool) produced more output than the PDF's size allows.")
        case .failed(let error) where error?.code == .executableNotFound:
            throw OCRError(.engineUnavailable, "\(tool) is not installed (Debian package poppler-utils).")
        case .failed:
            if Task.isCancelled {
                throw OCRError(.engineUnavailable, "Reading the PDF was cancelled.")
            }
            throw OCRError(.engineUnavailable, "\(tool) could not be run.")
        }
    }
}

/// A copy of the upload on disk (unique name, mode 0600) for tools that read
/// files; its owner removes it when done.
struct TemporaryFile {
    let path: String

    init(contents: [UInt8]) throws(OCRError) {
        let url = ScratchFiles.url("ocr", pathExtension: "pdf")
        path = url.path
        guard FileManager.default.createFile(atPath: path, contents: Data(contents), attributes: [.posixPermissions: 0o600]) else {
            throw OCRError(.engineUnavailable, "Could not write a temporary file for the PDF.")
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A private folder (unique name, mode 0700) for tools that write files,
/// such as `pdfimages`; its owner removes it with everything in it.
struct TemporaryFolder {
    let path: String

    init() throws(OCRError) {
        path = ScratchFiles.url("ocr").path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw OCRError(.engineUnavailable, "Could not create a temporary folder for the PDF's images.")
        }
    }

    /// The names of the files in the folder, sorted.
    func files() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    func contents(of name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path + "/" + name).map { [UInt8]($0) }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
