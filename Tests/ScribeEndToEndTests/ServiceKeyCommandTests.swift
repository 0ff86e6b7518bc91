import Foundation
import PostgresNIO
import ScribeAPI
import ScribePostgres
import ScribeStore
import ScribeTestSupport
import Testing

/// `scribe keys`: a key is printed once, only its hash is stored, and a revoked key no longer opens anything.
@Suite struct ServiceKeyCommandTests {
    /// Runs `scribe keys …` against `databaseURL`: (exit status, standard output, standard error).
    static func keys(_ arguments: [String], databaseURL: String) async throws -> (Int32, String, String) {
        let environment = ["DATABASE_URL": databaseURL, "LOG_LEVEL": "error", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? ""]
        let run = try await ChildProcess.run(ChildProcess.scribeBinary, ["keys"] + arguments, environment: environment, label: "keys")
        return (run.status, run.output, run.errors)
    }

    @Test func aKeyIsShownOnceStoredAsAHashAndRevokedAtOnce() async throws {
        let (url, configuration) = try await TestDatabase.createMigratedURL()
        let (status, output, errors) = try await Self.keys(["create", "--name", "telegram-bot", "--scopes", "chat,files"], databaseURL: url)
        #expect(status == 0, "\(errors)")
        let key = try #require(output.split(separator: "\n").last.map(String.init))
        let secret = ServiceKeySecret(key)
        #expect(secret.isWellFormed, "the key alone on the last line: \(key)")
        #expect(output.contains("telegram-bot") && output.contains("chat, files"))

        try await Database.withRunning(configuration, options: TestDatabase.options, logger: TestDatabase.logger) { database in
            let stores = Stores(database: database, logger: TestDatabase.logger)
            // Only the hash and a short prefix are kept: no column holds the key.
            let rows = try await database.client.query("SELECT id::text, name, prefix, encode(key_hash, 'hex'), array_to_string(scopes, ',') FROM service_keys")
            var stored: [String] = []
            for try await (id, name, prefix, hash, scopes) in rows.decode((String, String, String, String, String).self) { stored += [id, name, prefix, hash, scopes] }
            #expect(!stored.isEmpty)
            #expect(stored.allSatisfy { !$0.contains(key) && !key.dropFirst(14).isEmpty && !$0.contains(String(key.dropFirst(14))) })
            let hex = secret.hash.map { String(format: "%02x", $0) }.joined()
            #expect(stored.contains(hex))

            let found = try #require(try await stores.serviceKeys.useServiceKey(hash: secret.hash, origin: .commandLine))
            #expect(found.name == "telegram-bot" && found.scopes == ["chat", "files"])
            #expect(try await stores.serviceKeys.useServiceKey(hash: ServiceKeySecret().hash, origin: .commandLine) == nil, "an unknown key opens nothing")

            let (listed, list, listErrors) = try await Self.keys(["list"], databaseURL: url)
            #expect(listed == 0, "\(listErrors)")
            #expect(list.contains("telegram-bot") && list.contains(secret.prefix) && !list.contains(key), "\(list)")
            #expect(!list.contains("never"), "its use was noted")

            let (revoked, said, _) = try await Self.keys(["revoke", found.id.uuidString], databaseURL: url)
            #expect(revoked == 0 && said.contains("Revoked"))
            #expect(try await stores.serviceKeys.useServiceKey(hash: secret.hash, origin: .commandLine) == nil, "a revoked key opens nothing")
            let (again, _, notFound) = try await Self.keys(["revoke", found.id.uuidString], databaseURL: url)
            #expect(again != 0 && notFound.contains("No active service key"))
        }

        let (badScope, _, why) = try await Self.keys(["create", "--name", "x", "--scopes", "chat,admin"], databaseURL: url)
        #expect(badScope != 0 && why.contains("--scopes"))
        let (noName, _, _) = try await Self.keys(["create", "--name", "  "], databaseURL: url)
        #expect(noName != 0)
    }
}
