import Foundation
import Synchronization

/// A real child process (a `scribe worker`, `scribe api`, …) that tests start,
/// signal and wait for, with its output in a log file for post-mortems.
///
/// No test may leave one running. Start them in ``withChildProcesses(grace:_:)``,
/// which stops every process it started (SIGTERM, then SIGKILL after a grace)
/// on every path out of its body: a return, a thrown error, a failed
/// `#require`, a cancelled task (a test's time limit). Two backstops catch what
/// that cannot: a process released while still running is killed at once, and
/// the test runner kills every child still alive when it exits. scripts/test
/// then checks that no process of its run is left.
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
        logURL = try Self.newLogFile(label)
        let handle = try FileHandle(forWritingTo: logURL)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try Self.launch(process)
    }

    deinit {
        // The last backstop: a test that lost track of a running process.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` (e.g. `SIGKILL`, `SIGTERM`).
    public func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits (without blocking a thread) until the process has exited, at most `timeout`;
    /// returns its exit status, or nil if it is still running. Waits the whole
    /// time even in a cancelled task, so a cleanup after a time limit still waits.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        await Self.waitForExit(of: process, timeout: timeout)
    }

    private static func waitForExit(of process: Process, timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            // Not Task.sleep: it returns at once in a cancelled task, and this would spin.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(25)) { done.resume() }
            }
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

    // MARK: Running a command to its end

    /// What a command that ran to its end left.
    public struct Completion: Sendable {
        public var status: Int32
        public var output: String
        public var errors: String
        /// Where its standard error was written.
        public var errorLog: URL
    }

    /// Runs `executable` to its end, at most `timeout` (then it is killed and
    /// this throws): its exit status, standard output and standard error.
    public static func run(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: URL? = nil,
        timeout: Duration = .seconds(60),
        label: String
    ) async throws -> Completion {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        // Files, not pipes: a full pipe would block the child, and reading one would block a thread.
        let outputLog = try newLogFile(label + "-out")
        let errorLog = try newLogFile(label)
        process.standardOutput = try FileHandle(forWritingTo: outputLog)
        process.standardError = try FileHandle(forWritingTo: errorLog)
        process.standardInput = FileHandle.nullDevice
        try launch(process)
        guard let status = await waitForExit(of: process, timeout: timeout) else {
            kill(process.processIdentifier, SIGKILL)
            _ = await waitForExit(of: process, timeout: .seconds(10))
            throw HarnessError("\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(timeout); killed")
        }
        let read = { (url: URL) in (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        defer { try? FileManager.default.removeItem(at: outputLog) }
        return Completion(status: status, output: read(outputLog), errors: read(errorLog), errorLog: errorLog)
    }

    // MARK: Every child of the test runner

    /// The pids of every child started and not yet seen to exit.
    private static let live = Mutex<Set<Int32>>([])

    /// Kills every child still alive when the test runner exits (normally, or
    /// by `exit` after failures): the backstop for a test that lost one.
    private static let killLiveChildrenAtExit: Void = {
        atexit {
            for pid in ChildProcess.live.withLock({ $0 }) { kill(pid, SIGKILL) }
        }
    }()

    private static func launch(_ process: Process) throws {
        _ = killLiveChildrenAtExit
        process.terminationHandler = { ended in
            _ = ChildProcess.live.withLock { $0.remove(ended.processIdentifier) }
        }
        try process.run()
        let pid = process.processIdentifier
        live.withLock { _ = $0.insert(pid) }
        // It may have exited before it was added.
        if !process.isRunning { _ = live.withLock { $0.remove(pid) } }
    }

    private static func newLogFile(_ label: String) throws -> URL {
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("scribe-test-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let url = logs.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        return url
    }
}

/// The processes one test started, stopped together when it is done.
public final class ChildProcesses: Sendable {
    private let started = Mutex<[ChildProcess]>([])

    /// Starts a process that is stopped when the enclosing ``withChildProcesses(grace:_:)`` ends.
    @discardableResult
    public func start(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], label: String) throws -> ChildProcess {
        let process = try ChildProcess(executable, arguments, environment: environment, label: label)
        started.withLock { $0.append(process) }
        return process
    }

    /// Starts `scribe COMMAND` (the binary built with the tests).
    @discardableResult
    public func scribe(_ command: String, environment: [String: String], label: String) throws -> ChildProcess {
        try start(ChildProcess.scribeBinary, [command], environment: environment, label: label)
    }

    /// Every process started here, in order.
    public var all: [ChildProcess] { started.withLock { $0 } }

    /// Stops every process still running, all at once: SIGTERM, then SIGKILL after `grace`.
    func stopAll(grace: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            for process in all where process.isRunning {
                group.addTask { await process.stop(grace: grace) }
            }
        }
    }
}

/// Runs `body` with a set of child processes, and stops every one still
/// running when it ends, on every path: returned, thrown or cancelled.
/// A body that means to check how a process stops stops it itself first.
public func withChildProcesses<Result>(
    grace: Duration = .seconds(10),
    _ body: (ChildProcesses) async throws -> Result
) async throws -> Result {
    let processes = ChildProcesses()
    let result: Result
    do {
        result = try await body(processes)
    } catch {
        for process in processes.all where process.isRunning {
            print("stopping \(process.logURL.lastPathComponent) after a failure; its last lines:\n\(process.logTail())")
        }
        await processes.stopAll(grace: grace)
        throw error
    }
    await processes.stopAll(grace: grace)
    return result
}
