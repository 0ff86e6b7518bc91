import ArgumentParser
import Foundation
import Logging
import ScribeAPI
import ScribePostgres
import ScribeStore

/// `scribe keys`: service keys for bots and other services (`X-API-KEY`).
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke service keys.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    /// What a key may be given.
    static let knownScopes: Set<String> = ["chat", "files"]

    /// How long one of these commands waits for the database at least: an
    /// operator's one-off command is not a request on the hot path, and a busy
    /// server should make it slow, not fail. (A server that refuses
    /// connections still fails it at once.)
    static let patientDatabaseTimeout: Duration = .seconds(30)

    /// Runs `body` with the configured database.
    static func withKeys<T: Sendable>(_ body: @escaping @Sendable (ServiceKeyStore) async throws -> T) async throws -> T {
        let runtime = try Runtime.load(label: "scribe.keys")
        return try await Database.withRunning(
            runtime.databaseURL,
            options: Database.Options(timeout: max(runtime.configuration.databaseTimeout, patientDatabaseTimeout), poolSize: 2),
            logger: Logger(label: "scribe.postgres")
        ) { database in
            try await body(ServiceKeyStore(database: database, logger: runtime.logger))
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key. It is printed once, alone on the last line; only its hash is kept."
        )

        @Option(help: "A name to recognise the key by (1–100 characters), e.g. telegram-bot.")
        var name: String

        @Option(help: "What the key may do, comma-separated: chat, files.")
        var scopes = "chat"

        func validate() throws {
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (1...100).contains(trimmed.count) else { throw ValidationError("--name must be 1 to 100 characters.") }
            let asked = Set(scopes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            guard !asked.isEmpty, asked.isSubset(of: KeysCommand.knownScopes) else {
                throw ValidationError("--scopes must be a comma-separated list of: \(KeysCommand.knownScopes.sorted().joined(separator: ", ")).")
            }
        }

        func run() async throws {
            let secret = ServiceKeySecret()
            let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
            let scopes = Set(scopes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }).sorted()
            let key = try await KeysCommand.withKeys { keys in
                try await keys.createServiceKey(name: name, prefix: secret.prefix, hash: secret.hash, scopes: scopes)
            }
            print("Created service key \(key.id.uuidString.lowercased()) \"\(key.name)\" (scopes: \(key.scopes.joined(separator: ", "))).")
            print("Copy it now: it is not stored and cannot be shown again. Send it as the X-API-KEY header.")
            print(secret.value)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys (never the keys themselves).")

        func run() async throws {
            let keys = try await KeysCommand.withKeys { keys in try await keys.serviceKeys() }
            let formatter = ISO8601DateFormatter()
            print(["id", "name", "key", "scopes", "created", "last used", "revoked"].joined(separator: "\t"))
            for key in keys {
                print(
                    [
                        key.id.uuidString.lowercased(), key.name, key.prefix + "…", key.scopes.joined(separator: ","),
                        formatter.string(from: key.createdAt), key.lastUsedAt.map(formatter.string) ?? "never",
                        key.revokedAt.map(formatter.string) ?? "-",
                    ].joined(separator: "\t")
                )
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key at once: requests with it get 401.")

        @Argument(help: "The key's id (from `scribe keys list`).")
        var id: String

        func run() async throws {
            guard let id = UUID(uuidString: id) else { throw ValidationError("\(self.id) is not a key id.") }
            guard try await KeysCommand.withKeys({ keys in try await keys.revokeServiceKey(id: id) }) else {
                throw StartupError("No active service key has the id \(id.uuidString.lowercased()).")
            }
            print("Revoked service key \(id.uuidString.lowercased()).")
        }
    }
}
