import Foundation
import Testing

/// The module graph that README.md draws is the one the sources have, and
/// it keeps its rules: each target's imports are read from its files.
@Suite struct ModuleGraphTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Scribe's own modules (and the C library), as imported.
    static func isOurs(_ module: String) -> Bool { module.hasPrefix("Scribe") || module == "CTesseract" }

    /// Each source target's imports of our own modules (test-only targets left out).
    static func importGraph() throws -> [String: Set<String>] {
        let sources = root.appendingPathComponent("Sources")
        var graph: [String: Set<String>] = [:]
        for target in try FileManager.default.contentsOfDirectory(atPath: sources.path).sorted() where target != "CTesseract" {
            var imports: Set<String> = []
            let files = FileManager.default.enumerator(atPath: sources.appendingPathComponent(target).path)
            while let file = files?.nextObject() as? String {
                guard file.hasSuffix(".swift") else { continue }
                let text = try String(contentsOf: sources.appendingPathComponent(target).appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") {
                    let words = line.split(separator: " ").map(String.init)
                    guard let index = words.firstIndex(of: "import"), index + 1 < words.count,
                        words[..<index].allSatisfy({ $0.hasPrefix("@") })
                    else { continue }
                    let module = words[index + 1]
                    if isOurs(module) { imports.insert(module) }
                }
            }
            graph[target] = imports
        }
        return graph
    }

    /// The graph drawn in README.md's mermaid block: `A --> B` edges, and lone names.
    static func readmeGraph() throws -> [String: Set<String>] {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let block = try #require(readme.components(separatedBy: "```mermaid\n").dropFirst().first?.components(separatedBy: "```").first)
        var graph: [String: Set<String>] = [:]
        for line in block.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) where line != "graph TD" {
            let parts = line.components(separatedBy: " --> ")
            graph[parts[0], default: []].formUnion(parts.dropFirst())
        }
        return graph.filter { $0.key != "CTesseract" }
    }

    @Test func theREADMEDrawsTheGraphTheSourcesHave() throws {
        let actual = try Self.importGraph().filter { $0.key != "ScribeLLMTesting" }
        let drawn = try Self.readmeGraph()
        for module in Set(actual.keys).union(drawn.keys).sorted() {
            #expect(actual[module] == drawn[module], "\(module): imports \(actual[module]?.sorted() ?? []), README draws \(drawn[module]?.sorted() ?? [])")
        }
    }

    @Test func theGraphKeepsItsRules() throws {
        let graph = try Self.importGraph()
        let imports = { (module: String) in graph[module] ?? [] }
        #expect(imports("ScribePostgres").isEmpty, "the Postgres layer is a leaf")
        #expect(imports("ScribeQueue") == ["ScribePostgres"], "the queue stands on the Postgres layer alone")
        #expect(imports("ScribeStore") == ["ScribePostgres"])
        #expect(imports("ScribeConfig").isEmpty, "the configuration imports no Scribe module")
        #expect(imports("ScribeLLM").isEmpty && imports("ScribeDocuments").isEmpty)
        #expect(imports("ScribeAPI").isDisjoint(with: ["ScribeWorker", "ScribeOCR", "CTesseract", "ScribeConfig"]), "\(imports("ScribeAPI"))")
        #expect(imports("ScribeFlows").isDisjoint(with: ["ScribeWorker", "ScribeOCR", "ScribeAPI"]), "\(imports("ScribeFlows"))")
        #expect(imports("ScribeWorker").isDisjoint(with: ["ScribeAPI", "ScribeConfig"]))
        for (module, modules) in graph where module != "scribe" {
            #expect(!modules.contains("scribe") && !modules.contains("ScribeConfig"), "only scribe reads the configuration: \(module)")
        }
    }

    @Test func onlyTheExecutableBuildsProcesses() throws {
        // A process is a ServiceGroup; only `scribe` puts one together and runs it.
        let sources = Self.root.appendingPathComponent("Sources")
        for target in try FileManager.default.contentsOfDirectory(atPath: sources.path) where target != "scribe" && target != "ScribeLLMTesting" {
            let files = FileManager.default.enumerator(atPath: sources.appendingPathComponent(target).path)
            while let file = files?.nextObject() as? String {
                guard file.hasSuffix(".swift") else { continue }
                let text = try String(contentsOf: sources.appendingPathComponent(target).appendingPathComponent(file), encoding: .utf8)
                #expect(!text.contains("ServiceGroup("), "\(target)/\(file) builds a process")
            }
        }
    }
}
