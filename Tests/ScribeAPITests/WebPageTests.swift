import Foundation
import HTTPTypes
import ScribeTestSupport
import Testing

/// The page is served at `/` from `WEB_ROOT`, and every response carries the strict headers.
@Suite struct WebPageTests {
    @Test func thePageIsServedWithAStrictContentSecurityPolicy() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scribe-web-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try Data("<!doctype html><title>Scribe</title><script type=module src=app.js></script>".utf8)
            .write(to: root.appendingPathComponent("index.html"))
        try Data("export {}".utf8).write(to: root.appendingPathComponent("app.js"))
        // A file beside the web root, which no path may reach.
        let secret = root.deletingLastPathComponent().appendingPathComponent("secret-\(UUID()).txt")
        try Data("secret".utf8).write(to: secret)
        defer { try? FileManager.default.removeItem(at: secret) }

        try await withAPI(webRoot: root.path) { api in
            let page = try await api.send(.get, "/")
            #expect(page.status == .ok)
            #expect(page.text.contains("<title>Scribe</title>"))
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            let policy = try #require(page.headers[HTTPField.Name("Content-Security-Policy")!])
            #expect(policy.contains("script-src 'self'") && policy.contains("default-src 'none'") && !policy.contains("unsafe-inline"))
            #expect(page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(page.headers[.cacheControl] == "no-cache")
            #expect(try await api.send(.get, "/app.js").status == .ok)
            // The page names its script under the web root's version, kept for a year.
            let script = try #require(page.text.firstMatch(of: /src=(\/assets\/[0-9a-f]{12}\/app\.js)/)?.1)
            let asset = try await api.send(.get, String(script))
            #expect(asset.status == .ok && asset.text == "export {}")
            #expect(asset.headers[.cacheControl]?.contains("max-age=31536000") == true)
            #expect(asset.headers[.cacheControl]?.contains("immutable") == true)
            // A page loaded before a deploy is sent on to this version's asset.
            let old = try await api.send(.get, "/assets/0123456789ab/app.js")
            #expect(old.status == .temporaryRedirect && old.headers[.location] == String(script))
            // A reload of an unchanged page is answered 304.
            let tag = try #require(page.headers[.eTag])
            #expect(try await api.send(.get, "/", headers: [.ifNoneMatch: tag]).status == .notModified)
            for path in ["/../\(secret.lastPathComponent)", "/%2e%2e/\(secret.lastPathComponent)", "/..%2f\(secret.lastPathComponent)"] {
                let escape = try await api.send(.get, path)
                #expect(escape.status != .ok && !escape.text.contains("secret"), "\(path): \(escape.status)")
            }
            // The API's answers carry the same headers.
            let error = try await api.send(.get, "/v1/me")
            #expect(error.status == .unauthorized)
            #expect(error.headers[HTTPField.Name("Content-Security-Policy")!] == policy)
        }
    }
}
