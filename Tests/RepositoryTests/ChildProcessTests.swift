import Foundation
import ScribeTestSupport
import Testing

/// The harness that starts real processes leaves none behind, however a
/// test ends: failed, thrown, cancelled by a time limit, or a command that
/// never finishes.
@Suite struct ChildProcessTests {
    static let sleep = URL(fileURLWithPath: "/bin/sleep")

    /// Whether a process with this pid still exists (a zombie counts as gone).
    static func exists(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true)
    }

    struct Planted: Error {}

    @Test func aThrownErrorStopsEveryProcessTheTestStarted() async throws {
        var pids: [Int32] = []
        await #expect(throws: Planted.self) {
            try await withChildProcesses(grace: .seconds(2)) { processes in
                pids = try (0..<2).map { _ in try processes.start(Self.sleep, ["300"], label: "sleep").pid }
                #expect(pids.allSatisfy(Self.exists))
                throw Planted()
            }
        }
        #expect(pids.count == 2 && !pids.contains(where: Self.exists), "\(pids) still running")
    }

    @Test func aProcessThatIgnoresSIGTERMIsKilledAfterTheGrace() async throws {
        var pid: Int32 = 0
        try await withChildProcesses(grace: .milliseconds(500)) { processes in
            pid = try processes.start(URL(fileURLWithPath: "/bin/sh"), ["-c", "trap '' TERM; while :; do sleep 0.1; done"], label: "stubborn").pid
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(!Self.exists(pid), "SIGKILL followed the ignored SIGTERM")
    }

    @Test func aCancelledTestStopsItsProcesses() async throws {
        let started = AsyncStream<Int32>.makeStream()
        let test = Task {
            try await withChildProcesses(grace: .seconds(2)) { processes in
                started.continuation.yield(try processes.start(Self.sleep, ["300"], label: "sleep").pid)
                try await Task.sleep(for: .seconds(300))
            }
        }
        var iterator = started.stream.makeAsyncIterator()
        let pid = try #require(await iterator.next())
        test.cancel()
        _ = await test.result
        #expect(!Self.exists(pid))
    }

    @Test func aCommandThatNeverEndsIsKilledAtItsDeadline() async throws {
        // It throws (rather than waiting out the 300 s) once the deadline has passed.
        await #expect(throws: HarnessError.self) {
            _ = try await ChildProcess.run(Self.sleep, ["300"], timeout: .milliseconds(300), label: "sleep")
        }
        let done = try await ChildProcess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo out; echo err >&2; exit 3"], label: "sh")
        #expect(done.status == 3 && done.output == "out\n" && done.errors == "err\n")
    }
}
