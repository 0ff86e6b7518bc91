import Foundation
import Subprocess
import SystemPackage

/// A private PostgreSQL cluster for tests that must restart the server, which
/// the shared one (used by every other test at the same time) cannot be.
///
/// Needs the server binaries (`PG_BIN`, exported by scripts/test); started as
/// the `postgres` user when the tests run as root, since initdb refuses root.
public final class TestPostgresServer: Sendable {
    public let port: Int
    let dataDirectory: String
    let binaries: String

    public var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    public init() async throws {
        guard let binaries = ProcessInfo.processInfo.environment["PG_BIN"] else {
            throw HarnessError("PG_BIN is not set: run the tests with scripts/test.")
        }
        self.binaries = binaries
        port = freeLoopbackPort()
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("scribe-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        if getuid() == 0 { try await Self.run("/bin/chown", ["postgres:postgres", dataDirectory]) }
        try await pg("initdb", ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        try await start()
    }

    public func start() async throws {
        try await pg("pg_ctl", ["-D", dataDirectory, "-l", dataDirectory + "/server.log", "-w", "-t", "60",
                                "-o", "-h 127.0.0.1 -p \(port) -k \(dataDirectory) -c fsync=off", "start"])
    }

    public func stop() async throws {
        try await pg("pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "stop"])
    }

    /// Stops the server the way a crash does (`pg_ctl stop -m immediate`):
    /// every backend is killed at once, nothing is shut down cleanly.
    public func crash() async throws {
        try await pg("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
    }

    /// Stops and removes the cluster.
    public func destroy() async {
        try? await stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    private func pg(_ tool: String, _ arguments: [String]) async throws {
        let executable = binaries + "/" + tool
        if getuid() == 0 {
            try await Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
        } else {
            try await Self.run(executable, arguments)
        }
    }

    /// Runs a tool to completion. (Not `ChildProcess`: Foundation's `Process`
    /// never sees `pg_ctl start` exit, because the daemon it leaves behind
    /// inherits the descriptor `Process` watches.)
    static func run(_ executable: String, _ arguments: [String]) async throws {
        let result = try await Subprocess.run(
            .path(FilePath(executable)),
            arguments: Arguments(arguments),
            output: .discarded,
            error: .discarded
        )
        guard result.terminationStatus.isSuccess else {
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) failed: \(result.terminationStatus)")
        }
    }
}
