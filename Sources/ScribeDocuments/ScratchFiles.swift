import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The temporary files and folders a worker reads documents through (an
/// upload streamed to disk for poppler, a PDF's extracted images), named
/// `scribe-KIND-PID-UUID` so that what a killed process left can be told
/// from what a live one still uses.
///
/// A worker removes its own as it finishes with them; one that is killed
/// (SIGKILL, the OOM killer, a spot instance taken back) cannot. ``sweep()``
/// removes those of processes that are gone.
public enum ScratchFiles {
    static let prefix = "scribe-"

    /// A new unique path in the temporary folder for `kind` (`upload`, `ocr`), with `pathExtension` if any.
    public static func url(_ kind: String, pathExtension: String? = nil) -> URL {
        let name = "\(prefix)\(kind)-\(getpid())-\(UUID().uuidString)" + (pathExtension.map { ".\($0)" } ?? "")
        return FileManager.default.temporaryDirectory.appendingPathComponent(name)
    }

    /// Removes the scratch files and folders of processes that are no longer
    /// running, and unnamed ones (written before names carried the process)
    /// older than `legacyAge`. Returns how many it removed. Best effort: what
    /// it cannot remove it leaves.
    @discardableResult
    public static func sweep(legacyAge: TimeInterval = 24 * 3600) -> Int {
        let folder = FileManager.default.temporaryDirectory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return 0 }
        var removed = 0
        for name in names where name.hasPrefix(prefix) {
            guard let owner = owner(of: name) else { continue }
            let path = folder.appendingPathComponent(name).path
            switch owner {
            case .process(let pid):
                guard !isRunning(pid) else { continue }
            case .unknown:
                let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date()
                guard Date().timeIntervalSince(modified) > legacyAge else { continue }
            }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed += 1 }
        }
        return removed
    }

    enum Owner: Equatable {
        case process(Int32)
        case unknown
    }

    /// Whose a name is: `scribe-KIND-PID-UUID…` a process's, `scribe-upload-UUID` or
    /// `scribe-ocr-UUID…` (the names before) unknown, anything else nil (not ours).
    static func owner(of name: String) -> Owner? {
        let parts = name.dropFirst(prefix.count).split(separator: "-", maxSplits: 2)
        guard parts.count >= 2, ["upload", "ocr"].contains(parts[0]) else { return nil }
        if parts.count == 3, let pid = Int32(parts[1]), pid > 0, UUID(uuidString: String(parts[2].prefix(36))) != nil {
            return .process(pid)
        }
        let rest = name.dropFirst(prefix.count + parts[0].count + 1)
        return UUID(uuidString: String(rest.prefix(36))) != nil ? .unknown : nil
    }

    /// Whether a process with `pid` exists (one of another user counts as running).
    static func isRunning(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
