import Logging
import ScribeDocuments
import ServiceLifecycle

/// Removes the scratch files of worker processes that were killed before
/// they could (``ScratchFiles/sweep(legacyAge:)``): at start, then hourly,
/// until shutdown. Without it every SIGKILL mid-document would leave its
/// upload copy in the temporary folder for good.
struct ScratchFileSweeper: Service {
    let logger: Logger
    var interval: Duration = .seconds(3600)

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let removed = ScratchFiles.sweep()
            if removed > 0 { logger.info("removed the scratch files of processes that are gone", metadata: ["files": "\(removed)"]) }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
