import ArgumentParser
import Foundation

/// `scribe dev`: the whole of Scribe (API and workers) in one process for a laptop or a first run.
///
/// Applies migrations at start, and when `JWT_SECRET` is unset creates a random
/// one in `.scribe/jwt-secret` (mode 0600) and keeps it, so tokens survive restarts.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run the API and the workers in one process for local use, migrating the database first."
    )

    @Option(help: "Where the generated JWT secret is kept when JWT_SECRET is unset.")
    var secretFile = ".scribe/jwt-secret"

    func run() async throws {
        let runtime = try Runtime.load(label: "scribe.dev")
        let secret = try runtime.configuration.jwtSecret ?? Self.localSecret(at: secretFile)
        runtime.logger.notice("scribe dev on http://\(runtime.configuration.host):\(runtime.configuration.port)")
        try await runtime.run([.api, .workers], jwtSecret: secret, migrateFirst: true)
    }

    /// Reads the secret kept at `path`, creating it (64 hex characters, mode 0600) the first time.
    static func localSecret(at path: String) throws -> String {
        let url = URL(fileURLWithPath: path)
        if let existing = try? String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            existing.utf8.count >= 32
        {
            return existing
        }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: url.path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw StartupError("Cannot write the development JWT secret to \(path).")
        }
        return secret
    }
}
