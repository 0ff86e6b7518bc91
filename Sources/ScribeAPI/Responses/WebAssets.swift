import Crypto
import Foundation
import Hummingbird

/// The web app's files, served so that a browser asks for them as seldom as it
/// can and the API's routes never wait on the disk.
///
/// - The page (`/`, `/index.html`) is revalidated on every load (`no-cache`,
///   with an entity tag, so a repeat load is a `304`), so a deploy shows at once.
/// - It names its scripts and styles under `/assets/<version>/`, where the
///   version is a hash of every file of the web root, taken at start. Those
///   answers may be kept for a year without asking again (`immutable`): a
///   changed file changes the version, so the page then names new URLs.
///   A module's relative imports stay under the same version.
/// - An asset asked for under another version (a page loaded before a deploy,
///   from a process that has not restarted) is redirected to this version's.
/// - Every other file of the web root (the API docs page, `openapi.json`) is
///   served as before, revalidated on each load.
///
/// All of it sits behind the routes, in one middleware: only a path no route
/// answers reaches the disk.
struct WebAssets: Sendable {
    static let prefix = "/assets/"

    let root: String
    /// The web root's version: 12 hex digits of its files' SHA-256.
    let version: String
    /// `index.html`, its asset URLs made absolute under ``prefix``.
    let page: ByteBuffer
    let pageTag: EntityTag

    /// Reads the web root; nil when it has no `index.html`.
    init?(root: String) {
        let base = URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL
        guard let html = try? String(contentsOf: base.appendingPathComponent("index.html"), encoding: .utf8) else { return nil }
        let files = Self.files(under: base)
        var hash = SHA256()
        for (path, url) in files {
            hash.update(data: Data(path.utf8))
            hash.update(data: (try? Data(contentsOf: url)) ?? Data())
        }
        let version = hash.finalize().prefix(6).map { String(format: "%02x", $0) }.joined()
        self.root = root
        self.version = version
        page = ByteBuffer(string: Self.versioned(html, version: version, files: Set(files.map(\.path))))
        pageTag = EntityTag(of: page)
    }

    /// The web root's files by their path below it (`js/api.js`), sorted.
    static func files(under base: URL) -> [(path: String, url: URL)] {
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var files: [(path: String, url: URL)] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let path = url.standardizedFileURL.path.dropFirst(base.path.count).drop { $0 == "/" }
            files.append((String(path), url))
        }
        return files.sorted { $0.path < $1.path }
    }

    /// `html` with each `href` and `src` that names a file of the web root by a
    /// relative path (quoted or not) pointed under `/assets/<version>/`.
    static func versioned(_ html: String, version: String, files: Set<String>) -> String {
        html.replacing(/(?<name>href|src)=(?<quote>["']?)(?<url>[^"'\s>]+)\k<quote>/) { match in
            let url = String(match.output.url)
            guard files.contains(url) else { return String(match.output.0) }
            let quote = match.output.quote
            return "\(match.output.name)=\(quote)\(prefix)\(version)/\(url)\(quote)"
        }
    }

    /// The one middleware that serves the files (see ``WebAssetsMiddleware``).
    var middleware: WebAssetsMiddleware {
        WebAssetsMiddleware(
            site: self,
            version: version,
            assets: FileMiddleware(
                root,
                urlBasePath: Self.prefix + version,
                cacheControl: .init([(MediaType(type: .any), [.public, .maxAge(365 * 24 * 3600), .custom("immutable")])]),
                searchForIndexHtml: false
            ),
            files: FileMiddleware(root, cacheControl: .init([(MediaType(type: .any), [.noCache])]), searchForIndexHtml: true)
        )
    }

    /// The page, or `304` when the request's `If-None-Match` names it.
    func index(_ request: Request) -> Response {
        let headers: HTTPFields = [.eTag: pageTag.description, .cacheControl: "no-cache"]
        if pageTag.isMatched(byIfNoneMatch: request.headers[.ifNoneMatch]) {
            return Response(status: .notModified, headers: headers)
        }
        var response = Response(status: .ok, headers: headers, body: .init(byteBuffer: page))
        response.headers[.contentType] = "text/html; charset=utf-8"
        return response
    }
}

/// Answers what no route answered from the web root, in one layer whatever
/// the path: this version's assets (kept a year), another version's sent on
/// to this one's (`307`, never kept: a page loaded before a deploy), and any
/// other file revalidated on each load.
struct WebAssetsMiddleware: RouterMiddleware {
    typealias Context = ScribeRequestContext

    let site: WebAssets
    let version: String
    let assets: FileMiddleware<Context, LocalFileSystem>
    let files: FileMiddleware<Context, LocalFileSystem>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let notFound: Result<Response, any Error>
        do {
            let response = try await next(request, context)
            guard response.status == .notFound else { return response }
            notFound = .success(response)
        } catch let error as any HTTPResponseError where error.status == .notFound {
            notFound = .failure(error)
        }
        let fallback: (Request, Context) async throws -> Response = { _, _ in try notFound.get() }
        let path = request.uri.path
        if path == "/" || path == "/index.html", request.method == .get || request.method == .head {
            context.coreContext.endpointPath.value = "/"
            return site.index(request)
        }
        guard path.hasPrefix(WebAssets.prefix) else { return try await files.handle(request, context: context, next: fallback) }
        let rest = path.dropFirst(WebAssets.prefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return try notFound.get() }
        if rest[..<slash] == version[...] { return try await assets.handle(request, context: context, next: fallback) }
        guard request.method == .get || request.method == .head else { return try notFound.get() }
        return Response(
            status: .temporaryRedirect,
            headers: [.location: WebAssets.prefix + version + String(rest[slash...]), .cacheControl: "no-store"]
        )
    }
}
