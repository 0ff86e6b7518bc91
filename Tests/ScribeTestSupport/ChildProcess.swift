import Foundation

/// A real child process (a `scribe worker`, `pg_ctl`, …) that tests start,
/// signal and wait for, with its output in a log file for post-mortems.
public final class ChildProcess: @unchecked Sendable {
    // Process is not Sendable; this wrapper is only used from one test at a time.
    private let process: Process
    /// Where the process's stdout and stderr went.
    public let logURL: URL

    /// The `scribe` executable built with the tests: `SCRIBE_BIN`, else the debug build folder.
    public static var scribeBinary: URL {
        if let path = ProcessInfo.processInfo.environment["SCRIBE_BIN"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/scribe")
    }

    /// Starts `executable` with `arguments` and `environment` (added to this process's own).
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], label: String) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("scribe-test-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        logURL = logs.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` (e.g. `SIGKILL`, `SIGTERM`).
    public func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits (without blocking a thread) until the process has exited, at most `timeout`;
    /// returns its exit status, or nil if it is still running.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return process.terminationStatus
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`: no test leaves a process behind.
    /// Returns the exit status when it exited on its own after SIGTERM.
    @discardableResult
    public func stop(grace: Duration = .seconds(30)) async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        send(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return status }
        send(SIGKILL)
        await waitForExit(timeout: .seconds(10))
        return nil
    }

    /// The last lines of the process's log.
    public func logTail(lines: Int = 30) -> String {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
